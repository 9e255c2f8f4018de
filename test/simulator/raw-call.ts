import { request as httpRequest } from 'node:http';
import { PRIVACY_PATH, PROFILE_PATH, SOCIAL_PATH } from '../../src/simulator/simulator-app.js';

/** A caller's `Authorization` as the simulator accepts it. */
export const AUTHORIZATION = 'XBL3.0 x=2535405290015920;token';

/** What a raw call got back: the status, headers and the body as text, unparsed. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

/** Thrown when the client's own timeout ends a call before any answer. */
export class ClientTimeoutError extends Error {
  override readonly name = 'ClientTimeoutError';
}

/**
 * One HTTP call on a fresh connection, the way a gateway's client sees it: resolves with the
 * answer, rejects with the socket error (`ECONNRESET`…) or a `ClientTimeoutError` after
 * `timeoutMs`.
 */
export function rawCall(
  url: string,
  call: {
    readonly method?: string;
    readonly path: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** Sent as JSON. */
    readonly body?: unknown;
    /** Sent as is, instead of `body`. */
    readonly text?: string;
    readonly timeoutMs?: number;
  },
): Promise<RawAnswer> {
  const payload = call.text ?? (call.body === undefined ? undefined : JSON.stringify(call.body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(call.path, url), {
      method: call.method ?? 'POST',
      agent: false,
      headers: {
        ...(payload === undefined
          ? {}
          : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
        ...call.headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy(new ClientTimeoutError(`No answer within ${call.timeoutMs} ms`));
    }, call.timeoutMs ?? 5000);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.end(payload);
  });
}

/** A valid call of each service, naming `xuid`. */
export function callsOf(xuid: string) {
  return {
    social: {
      path: SOCIAL_PATH,
      headers: { Authorization: AUTHORIZATION },
      body: { xuids: [xuid] },
    },
    profile: {
      path: PROFILE_PATH,
      headers: { Authorization: AUTHORIZATION, 'x-xbl-contract-version': '2' },
      body: { userIds: [xuid], settings: ['Gamertag'] },
    },
    privacy: {
      path: PRIVACY_PATH,
      headers: { Authorization: AUTHORIZATION },
      body: { users: [{ xuid }], permissions: ['ViewTargetProfile'] },
    },
  };
}
