import test from 'ava';
import { whereToOpen } from './output.ts';

test('a page in a local store opens at its file:// address; one in S3 is fetched with aws s3 cp first', (t) => {
  t.is(whereToOpen('file:///tmp/out/r', 'plan/plan.html'), 'open file:///tmp/out/r/plan/plan.html');
  t.is(whereToOpen('s3://bucket/runs/r', 'report.html'), 'fetch it to open it: aws s3 cp s3://bucket/runs/r/report.html ./report.html');
});
