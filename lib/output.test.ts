import test from 'ava';
import { execFileSync } from 'node:child_process';
import { tableWord, whereToOpen } from './output.ts';

test('a page in a local store opens at its file:// address; one in S3 is fetched with aws s3 cp first', (t) => {
  t.is(whereToOpen('file:///tmp/out/r', 'plan/plan.html'), 'open file:///tmp/out/r/plan/plan.html');
  t.is(whereToOpen('s3://bucket/runs/r', 'report.html'), 'fetch it to open it: aws s3 cp s3://bucket/runs/r/report.html ./report.html');
});

test('TABLE= in a printed command survives the shell whatever the table names hold', (t) => {
  t.is(tableWord(['users', 'user_devices']), 'TABLE=users,user_devices');
  for (const names of [['Odd Name'], ["it's", 'users'], ['a$b`c']]) {
    const word = tableWord(names);
    t.is(execFileSync('sh', ['-c', `${word}; printf %s "$TABLE"`], { encoding: 'utf8' }), names.join(','), word);
  }
});
