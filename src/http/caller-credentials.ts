import { MissingCredentialsError } from '../errors.js';

/** `XBL3.0 x=<userhash>;<token>` (UPSTREAMS.md, common part). */
const XBL_AUTHORIZATION = /^XBL3\.0 x=([^;\s]+);([\x21-\x7e]+)$/;

/** The caller as the `Authorization` header names them. */
export interface CallerCredentials {
  /** The header exactly as sent, forwarded verbatim to every upstream and never logged. */
  readonly authorization: string;
  /** Identifies the player for per-caller limits. */
  readonly userHash: string;
}

/** Parses the XBL3.0 `Authorization` header; throws a 401 error when missing or malformed. */
export function parseCallerCredentials(header: string | undefined): CallerCredentials {
  if (header === undefined || header === '') {
    throw new MissingCredentialsError('Cannot authenticate: the Authorization header is missing');
  }
  const match = XBL_AUTHORIZATION.exec(header);
  const userHash = match?.[1];
  if (userHash === undefined) {
    throw new MissingCredentialsError(
      "Cannot authenticate: Authorization must be 'XBL3.0 x=<userhash>;<token>'",
    );
  }
  return { authorization: header, userHash };
}
