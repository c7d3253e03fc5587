/* global document, window, setTimeout */
// The operator console's one script (progressive enhancement: every page works without it).
// - file inputs with data-fills="<textarea id>" read the chosen file into that textarea;
// - buttons with data-confirm ask before their form is sent;
// - a section with data-refresh="<s>" (a run still in progress) reloads itself until the run ends.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  for (const input of document.querySelectorAll('input[type=file][data-fills]')) {
    input.addEventListener('change', () => {
      const target = document.getElementById(input.dataset.fills);
      const file = input.files && input.files[0];
      if (!target || !file) return;
      file.text().then((text) => { target.value = text; });
    });
  }

  for (const button of document.querySelectorAll('button[data-confirm]')) {
    button.addEventListener('click', (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }

  const refreshing = document.querySelector('[data-refresh]');
  if (refreshing) {
    const seconds = Math.max(1, Number(refreshing.getAttribute('data-refresh')) || 5);
    setTimeout(() => window.location.reload(), seconds * 1000);
  }
});
