// The Authorization header value for a DICOMweb server. A bearer token may come from a function so that
// a caller can refresh short-lived tokens without rebuilding the client.
import { basicAuthorization } from '../../shared/basic-auth.ts';

export type DicomwebAuth =
  | { type: 'bearer'; token: string | (() => string | Promise<string>) }
  | { type: 'basic'; username: string; password: string };

export async function buildAuthHeader(auth: DicomwebAuth | undefined): Promise<string | undefined> {
  if (!auth) return undefined;
  if (auth.type === 'bearer') {
    const token = typeof auth.token === 'function' ? await auth.token() : auth.token;
    return `Bearer ${token}`;
  }
  return basicAuthorization(auth.username, auth.password);
}
