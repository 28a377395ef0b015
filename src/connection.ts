import { ServerConnection } from '@jupyterlab/services';

import { IEndpoint } from './endpoint';

/**
 * Asks the user for a token to the proxy at `url` (`retry`: the last one
 * was refused); resolves to `null` when the user declines.
 */
export type TokenPrompt = (
  url: string,
  retry: boolean
) => Promise<string | null>;

/**
 * The proxy's error answer: `{"error", "message"}`.
 */
interface IErrorBody {
  error?: string;
  message?: string;
}

const SAFE_METHODS = ['GET', 'HEAD'];
const MAX_LOGINS = 5; // tokens typed for one request before it fails
const LOGIN_TIMEOUT = 30_000;
const TOKEN_KEY = 'jupyter-fsspec-proxy:token:';

/**
 * Requests to the proxy, authenticated as the page can: on the proxy's
 * origin with the session cookie (and the XSRF token on writes), from
 * another origin with the token the user typed, kept for this tab only
 * (`sessionStorage`). Nothing else is ever sent: the page holds no storage
 * credential.
 */
export class ProxyConnection {
  constructor(
    readonly endpoint: IEndpoint,
    private readonly _askToken: TokenPrompt
  ) {}

  /**
   * The absolute URL of `route` (already encoded) below the proxy.
   */
  url(route: string): string {
    return new URL(route, this.endpoint.url).href;
  }

  /**
   * Sends a request; any answer but 2xx and 304 throws a
   * `ServerConnection.ResponseError` with the proxy's message. An answer
   * "not authenticated" first logs in and sends the request again (asking
   * again for a token the proxy refused, until the user gives up).
   */
  async request(route: string, init: RequestInit = {}): Promise<Response> {
    let response = await this._send(route, init);
    for (
      let attempt = 0;
      attempt < MAX_LOGINS && !Private.ok(response);
      attempt++
    ) {
      const error = await Private.errorOf(response);
      if (
        Private.notAuthenticated(response, error) &&
        (await this._logIn(attempt))
      ) {
        // logged in (or a new token typed): send again
      } else if (attempt === 0 && Private.noXsrf(response, error)) {
        this._knownXsrf = null;
      } else {
        break;
      }
      response = await this._send(route, init);
    }
    if (!Private.ok(response)) {
      const error = await Private.errorOf(response);
      throw new ServerConnection.ResponseError(
        response,
        error.message || `${response.status} ${response.statusText}`
      );
    }
    return response;
  }

  /**
   * The JSON answer of a request.
   */
  async json<T>(route: string, init: RequestInit = {}): Promise<T> {
    return (await (await this.request(route, init)).json()) as T;
  }

  /**
   * Forgets the token of this tab (cross-origin proxies): the next request
   * asks again.
   */
  logOut(): void {
    window.sessionStorage.removeItem(TOKEN_KEY + this.endpoint.url);
  }

  /**
   * Lets the next refused request ask for a token again, after the user
   * declined once (refreshes do not ask every time).
   */
  allowLogin(): void {
    this._declined = false;
  }

  private async _send(route: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    const method = (init.method ?? 'GET').toUpperCase();
    let credentials: RequestCredentials = 'omit';
    if (this.endpoint.sameOrigin) {
      credentials = 'same-origin';
      // on writes always; on reads once known (a JupyterHub service wants it)
      const xsrf = SAFE_METHODS.includes(method)
        ? this._knownXsrf
        : await this._xsrfToken();
      if (xsrf) {
        headers.set('X-XSRFToken', xsrf);
      }
    } else {
      const token = window.sessionStorage.getItem(
        TOKEN_KEY + this.endpoint.url
      );
      if (token) {
        headers.set('Authorization', `token ${token}`);
      }
    }
    try {
      return await fetch(this.url(route), { ...init, headers, credentials });
    } catch (error) {
      throw new Error(
        `The storage proxy at ${this.endpoint.url} cannot be reached (${error}).` +
          (this.endpoint.sameOrigin
            ? ''
            : ' A page on another origin needs c.ProxyManager.allowed_origins.')
      );
    }
  }

  /**
   * The XSRF token of the proxy's session (`api/xsrf`): the proxy may live
   * under another path than the page (a JupyterHub service), whose cookie
   * the page cannot read.
   */
  private async _xsrfToken(): Promise<string> {
    if (!this._knownXsrf) {
      const answer = await this.json<{ xsrf_token: string }>('api/xsrf');
      this._knownXsrf = answer.xsrf_token;
    }
    return this._knownXsrf;
  }

  /**
   * Logs in for all the requests waiting at once: on the proxy's origin
   * through its login page (first try of a request only), elsewhere with a
   * token from the user.
   */
  private _logIn(attempt: number): Promise<boolean> {
    if (this.endpoint.sameOrigin && attempt > 0) {
      return Promise.resolve(false); // the login page did not help
    }
    if (!this._loggingIn) {
      this._loggingIn = (
        this.endpoint.sameOrigin ? this._frameLogin() : this._promptToken()
      ).finally(() => (this._loggingIn = null));
    }
    return this._loggingIn;
  }

  /**
   * Opens the proxy's `login` page in a hidden frame: the server's login
   * happens there as page loads (a JupyterHub service's OAuth sets its
   * cookies on page loads only), and the frame's cookies give the XSRF token
   * that such a service also wants on reads.
   */
  private async _frameLogin(): Promise<boolean> {
    const frame = document.createElement('iframe');
    frame.style.display = 'none';
    const loaded = new Promise(resolve =>
      frame.addEventListener('load', resolve, { once: true })
    );
    frame.src = this.url('login');
    document.body.append(frame);
    try {
      await Promise.race([
        loaded,
        new Promise(resolve => setTimeout(resolve, LOGIN_TIMEOUT))
      ]);
      // elsewhere (a login form, another origin): not logged in
      if (frame.contentWindow?.location.href !== this.url('login')) {
        return false;
      }
      const cookies = frame.contentDocument?.cookie ?? '';
      this._knownXsrf = /(?:^|;\s*)_xsrf=([^;]*)/.exec(cookies)?.[1] ?? null;
      return true;
    } catch {
      return false; // a page of another origin: not readable
    } finally {
      frame.remove();
    }
  }

  private async _promptToken(): Promise<boolean> {
    if (this._declined) {
      return false;
    }
    const key = TOKEN_KEY + this.endpoint.url;
    const token = await this._askToken(
      this.endpoint.url,
      window.sessionStorage.getItem(key) !== null
    );
    if (!token) {
      this._declined = true;
      return false;
    }
    window.sessionStorage.setItem(key, token);
    return true;
  }

  private _knownXsrf: string | null = null;
  private _loggingIn: Promise<boolean> | null = null;
  private _declined = false;
}

namespace Private {
  export function ok(response: Response): boolean {
    return response.ok || response.status === 304;
  }

  /**
   * The JSON error of an answer, or nothing if it has none.
   */
  export async function errorOf(response: Response): Promise<IErrorBody> {
    try {
      return ((await response.clone().json()) as IErrorBody) ?? {};
    } catch {
      return {};
    }
  }

  /**
   * The proxy's 403 for a request without (valid) credentials.
   */
  export function notAuthenticated(
    response: Response,
    error: IErrorBody
  ): boolean {
    return (
      response.status === 403 &&
      (error.message ?? '').startsWith('Not authenticated')
    );
  }

  /**
   * The proxy's 403 for a cookie write whose XSRF token is stale.
   */
  export function noXsrf(response: Response, error: IErrorBody): boolean {
    return (
      response.status === 403 && (error.message ?? '').includes('XSRF token')
    );
  }
}
