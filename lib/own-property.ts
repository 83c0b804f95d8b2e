// Objects keyed by data (DynamoDB map keys, attribute names, CSV headers) must
// take any name as an ordinary key. `obj[name] = v` does not when name is
// `__proto__`: on a plain object that sets the prototype and the member is
// gone (an item then reaches DynamoDB as "Supplied AttributeValue is empty").
// JSON.parse, Object.entries and JSON.stringify treat `__proto__` as an own
// property, and so does the SDK; this makes the same own data property.

/** `target[name] = value`, as an own enumerable property whatever `name` is. */
export function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

/** `target[name]` if it is the object's own property: `constructor`, `toString`… are not members of every item. */
export function getOwn<T>(target: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(target, name) ? target[name] : undefined;
}
