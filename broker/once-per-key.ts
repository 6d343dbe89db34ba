// "Log it the first time, count it every time": remembers which (key, tag) pairs were seen.
// Object keys (a client) are held weakly; string keys (a remote address, before there is a
// client) in a bounded map, so a flood of new addresses cannot grow it without limit.
const MAX_STRING_KEYS = 10_000;

export class OncePerKey {
  private readonly objects = new WeakMap<object, Set<string>>();
  private readonly strings = new Map<string, Set<string>>();

  /** True the first time `tag` is seen for `key`. */
  first(key: object | string, tag: string): boolean {
    let seen: Set<string> | undefined;
    if (typeof key === 'string') {
      seen = this.strings.get(key);
      if (!seen) {
        // Forgetting everything now and then logs an address again: acceptable, and bounded.
        if (this.strings.size >= MAX_STRING_KEYS) this.strings.clear();
        this.strings.set(key, (seen = new Set()));
      }
    } else {
      seen = this.objects.get(key);
      if (!seen) this.objects.set(key, (seen = new Set()));
    }
    if (seen.has(tag)) return false;
    seen.add(tag);
    return true;
  }
}
