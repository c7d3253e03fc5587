import type { Response } from 'express';
import { RESEARCH_USE_NOTICE } from '../../shared/research-use-notice.ts';
import { html, type SafeHtml } from './html.ts';

/** No inline script or style anywhere: the one JS and CSS file come from the service itself. */
export const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function setConsoleHeaders(res: Response): void {
  res.set({
    'Content-Security-Policy': CONSOLE_CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  });
}

export interface LayoutOptions {
  title: string;
  /** Present once logged in (or open): the nav and the logout form. */
  csrfToken?: string | undefined;
  /** The logout button only where a session exists. */
  canLogOut?: boolean;
  active?: 'runs' | 'profiles';
}

export function layout(options: LayoutOptions, body: SafeHtml): SafeHtml {
  const nav = options.csrfToken === undefined ? '' : html`
    <nav>
      <a href="/ui" class="${options.active === 'runs' ? 'active' : ''}">Runs</a>
      <a href="/ui/profiles" class="${options.active === 'profiles' ? 'active' : ''}">Profile tester</a>
      ${options.canLogOut ? html`<form method="post" action="/ui/logout" class="logout"><input type="hidden" name="csrf" value="${options.csrfToken}"><button type="submit">Log out</button></form>` : ''}
    </nav>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · UniMedVL console</title>
<link rel="stylesheet" href="/ui/assets/console.css">
<script src="/ui/assets/console.js" defer></script>
</head>
<body>
<header><span class="brand">UniMedVL console</span>${nav}</header>
<main>
${body}
</main>
<footer>${RESEARCH_USE_NOTICE}</footer>
</body>
</html>`;
}

export function sendPage(res: Response, page: SafeHtml, status = 200): void {
  setConsoleHeaders(res);
  res.status(status).type('html').send(page.value);
}
