import { type Api, ApiFailure } from './api.js';
import type { WhoAmI } from './api-types.js';
import { byId } from './dom.js';

// The API token: none needed when the backend runs with open access; otherwise asked for once
// and kept in this tab's session storage (gone when the tab closes), sent as the bearer token.

const KEY = 'furnace-dashboard-token';

export function storedToken(): string | undefined {
  return sessionStorage.getItem(KEY) ?? undefined;
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}

/** Asks for a token in the page's dialog; resolves with what was typed. */
function askForToken(message: string): Promise<string> {
  const dialog = byId<HTMLDialogElement>('token-dialog');
  const form = byId<HTMLFormElement>('token-form');
  const input = byId<HTMLInputElement>('token-input');
  byId('token-message').textContent = message;
  input.value = '';
  if (!dialog.open) dialog.showModal();
  return new Promise((resolve) => {
    form.onsubmit = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token === '') return;
      dialog.close();
      resolve(token);
    };
  });
}

/** Who we are to the API, asking for a token until one works (or none is needed). */
export async function signIn(api: Api): Promise<WhoAmI> {
  let message = 'This backend needs an API token (ask your administrator; npx furnace-backend --new-token NAME).';
  for (;;) {
    try {
      return await api.get<WhoAmI>('/api/v1/auth/whoami');
    } catch (error) {
      if (!(error instanceof ApiFailure) || (error.status !== 401 && error.status !== 403)) throw error;
      if (storedToken() !== undefined) message = `That token was refused (${error.message}). Try another.`;
      forgetToken();
      const token = await askForToken(message);
      sessionStorage.setItem(KEY, token);
      api.setToken(token);
    }
  }
}
