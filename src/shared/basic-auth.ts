/** The `Authorization` value for HTTP Basic (RFC 7617, UTF-8 credentials), for FHIR and DICOMweb alike. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
