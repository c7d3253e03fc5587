import { html, type SafeHtml } from './html.ts';

export function loginPage(options: { nonce: string; problem?: string | undefined }): SafeHtml {
  return html`<section class="login card">
<h1>Log in</h1>
<p class="muted">Use the service's API token (API_TOKEN). It is sent once in this form's body, never in a URL, and never stored in the browser.</p>
${options.problem ? html`<p class="problem" role="alert">${options.problem}</p>` : ''}
<form method="post" action="/ui/login">
  <input type="hidden" name="nonce" value="${options.nonce}">
  <label for="token">API token</label>
  <input id="token" type="password" name="token" autocomplete="current-password" required autofocus>
  <button type="submit" class="primary">Log in</button>
</form>
</section>`;
}
