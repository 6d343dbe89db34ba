import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * POSTs `body` and resolves with the status once the answer has been read to the end (its body is
 * dropped: reading it frees the kept-alive connection for the next event). Rejects on a network
 * error, or when `signal` aborts (the socket is destroyed). Redirects are not followed.
 *
 * node:http rather than fetch: fetch follows the caller's signal through a weakly held inner
 * controller, so after a garbage collection an abort may never reach a request that hangs
 * (nodejs/node#55428, nodejs/undici#4068); here the signal's listener holds the request itself.
 */
export function postJson(url: URL, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const payload = Buffer.from(body);
    const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(payload.length) }, signal }, (res) => {
      res.on('end', () => resolve(res.statusCode ?? 0));
      // Destroyed before the end (abort, reset): the answer is incomplete, so the attempt failed.
      res.on('close', () => {
        // The caller reads the abort's reason from its own signal; this only has to fail.
        if (!res.complete) reject(new Error('connection closed before the answer ended'));
      });
      res.on('error', reject);
      res.resume();
    });
    req.on('error', reject);
    req.end(payload);
  });
}
