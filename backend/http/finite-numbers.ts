import type { FastifyServerOptions } from 'fastify';

// Ajv's type coercion turns the query strings "Infinity", "-Infinity" and "1e309" into ±Infinity,
// and its strictNumbers check runs only on values that were numbers before coercion, so they then
// skip minimum and maximum too: `limit=Infinity` passes `{ type: 'integer', maximum: 500 }` and
// reaches SQLite as a bound it refuses (SQLITE_MISMATCH, a 500).
// Upstream: https://github.com/ajv-validator/ajv/issues/2212 (closed unfixed), https://github.com/fastify/fastify/issues/6718;
// a fix is proposed in https://github.com/ajv-validator/ajv/pull/2661. Once Ajv refuses them itself,
// this plugin never fires and can go; the tests in finite-numbers.test.ts stay.

/** Ajv as fastify hands it to its plugins (`ajv.plugins`), named without importing Ajv, which fastify owns. */
type AjvPlugin = Extract<NonNullable<NonNullable<FastifyServerOptions['ajv']>['plugins']>[number], (...args: never[]) => unknown>;
type Ajv = ReturnType<AjvPlugin>;
type Validate = ReturnType<Ajv['compile']>;

/**
 * Makes every validator of this Ajv instance refuse a number that is not finite anywhere in the
 * data it has just validated (and coerced): one place for every route and request part, so no
 * numeric parameter, today's or tomorrow's, can let one through. The refusal is an ordinary
 * validation error (keyword `finite`, at the value's path), so the API answers it as any other:
 * 400 API_BAD_REQUEST, "limit: must be a finite number".
 */
export function refuseNonFiniteNumbers(ajv: Ajv): Ajv {
  const compile = ajv.compile.bind(ajv) as (schema: unknown, meta?: boolean) => Validate;
  ajv.compile = ((schema: unknown, meta?: boolean) => guard(compile(schema, meta))) as Ajv['compile'];
  return ajv;
}

function guard(validate: Validate): Validate {
  // An async validator resolves with the data; none in this API, and it would need its own wrapping.
  if ('$async' in validate) return validate;
  type Guarded = ((data: unknown, context?: Parameters<Validate>[1]) => boolean) & Pick<Validate, 'errors' | 'schema' | 'schemaEnv'>;
  const check = (data: unknown, context?: Parameters<Validate>[1]): boolean => {
    if (!validate(data, context)) {
      guarded.errors = validate.errors;
      return false;
    }
    const path = nonFinitePath(data);
    guarded.errors =
      path === undefined
        ? null
        : [{ instancePath: path, schemaPath: '#', keyword: 'finite', params: {}, message: 'must be a finite number' }];
    return path === undefined;
  };
  // fastify reads `errors` after a refusal, and passes the parent (so that Ajv can coerce a root value) when `schemaEnv` is there.
  const guarded: Guarded = Object.assign(check, { errors: null, schema: validate.schema, schemaEnv: validate.schemaEnv });
  return guarded as Validate;
}

/** The JSON pointer of the first number in `data` that is not finite; walked without recursion, as a body may nest deep. */
export function nonFinitePath(data: unknown): string | undefined {
  const pending: Array<{ value: unknown; path: string }> = [{ value: data, path: '' }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, path } = next;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return path;
    } else if (isPlainContainer(value)) {
      // Reversed onto the stack, so the first parameter at fault is the one named.
      const entries = Object.entries(value).reverse();
      for (const [key, child] of entries)
        pending.push({ value: child, path: `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}` });
    }
  }
  return undefined;
}

/**
 * Arrays and plain objects, as JSON and query strings parse into; not Buffers, streams and the like.
 * fastify's query parser makes objects whose prototype is itself without one (`Object.create(null)`).
 */
function isPlainContainer(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return true;
  const prototype = Object.getPrototypeOf(value) as object | null;
  return prototype === null || prototype === Object.prototype || Object.getPrototypeOf(prototype) === null;
}
