// signet-client: offline signing of Signet links with an API key, and a
// client of Signet's public API. See docs/client-js.md.

export { Signer, signUrl, signLink, signToken, keyIdOf, canonicalQuery, escapePath } from './sign.js';
export { Client } from './client.js';
export {
  SignetError,
  BadRequestError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
  RateLimitedError,
  UnavailableError,
} from './errors.js';
