// Origins compared the way browsers compare them: scheme, host and port after WHATWG URL parsing
// (lower-cased host, IDN to punycode, IPv4 shorthands like 0x7f.1 to dotted decimal, default port
// dropped), plus one rule of our own: a trailing dot on the host is dropped ("pacs." is "pacs").
// An address with userinfo (`http://pacs@other-host/`) has no origin here: it is how a hostile
// Endpoint makes a URL read like the trusted server while naming another one.

/** `scheme://host[:port]` of an http(s) address, or undefined when it is not one, has userinfo or does not parse. */
export function httpOriginOf(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  const host = url.hostname.endsWith('.') ? url.hostname.slice(0, -1) : url.hostname;
  if (host === '') return undefined;
  return `${url.protocol}//${host}${url.port ? `:${url.port}` : ''}`;
}

/** Like httpOriginOf for a configured origin, which must be an origin alone (no path beyond `/`, no query or fragment). */
export function parseConfiguredOrigin(text: string): string | undefined {
  const origin = httpOriginOf(text);
  if (!origin) return undefined;
  const url = new URL(text);
  return url.pathname === '/' && url.search === '' && url.hash === '' ? origin : undefined;
}
