// One way to make a part's error class from its catalogue, as fastify's createError makes its
// errors from lib/errors.js: each instance carries a stable code of the catalogue, and the
// catalogue's message unless the throw site says more. Agent, broker and backend each have a
// catalogue (their errors.ts); this is the class they share. (The emulator keeps its own: it
// imports nothing of the project.)

/** A catalogue: each stable code beside its default message. */
export type ErrorCatalogue<Code extends string> = Readonly<Record<Code, { readonly message: string }>>;

/** An Error class named `name` whose instances carry a code of `catalogue`. */
export function codedErrorClass<Code extends string>(name: string, catalogue: ErrorCatalogue<Code>) {
  return class extends Error {
    constructor(
      readonly code: Code,
      message: string = catalogue[code].message,
      options?: ErrorOptions,
    ) {
      super(message, options);
      this.name = name;
    }
  };
}
