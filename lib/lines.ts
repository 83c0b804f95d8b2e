// Lines of a text stream, split on "\n" alone. node:readline also ends a line
// at "\r", and from Node 24 at U+2028 / U+2029, which JSON strings may hold
// unescaped: an item file read with it breaks one item into several lines.
import { StringDecoder } from 'node:string_decoder';

/** The UTF-8 lines of `input` without their "\n" (a last line without one included; none after a final "\n"). */
export async function* textLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let end = rest.indexOf('\n');
    let start = 0;
    while (end >= 0) {
      yield rest.slice(start, end);
      start = end + 1;
      end = rest.indexOf('\n', start);
    }
    rest = rest.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield rest;
}
