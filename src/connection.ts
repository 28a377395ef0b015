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
      if (Private.notAuthenticated(response, error) && (await this._logIn())) {
        // logged in (or a new token typed): send again
      } else if (attempt === 0 && Private.noXsrf(response, error)) {
        this._xsrf = null;
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
      if (!SAFE_METHODS.includes(method)) {
        headers.set('X-XSRFToken', await this._xsrfToken());
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
            : ' A page on another origin needs c.FsspecProxy.allowed_origins.')
      );
    }
  }

  /**
   * The XSRF token of the proxy's session (`api/xsrf`): the proxy may live
   * under another path than the page (a JupyterHub service), whose cookie
   * the page cannot read.
   */
  private _xsrfToken(): Promise<string> {
    if (!this._xsrf) {
      this._xsrf = this.json<{ xsrf_token: string }>('api/xsrf').then(
        answer => answer.xsrf_token
      );
      this._xsrf.catch(() => (this._xsrf = null));
    }
    return this._xsrf;
  }

  /**
   * Logs in once for all the requests waiting: on the proxy's origin through
   * the proxy's login (a JupyterHub service's OAuth, which redirects back
   * and sets the service's cookie), elsewhere with a token from the user.
   */
  private _logIn(): Promise<boolean> {
    if (!this._loggingIn) {
      this._loggingIn = (
        this.endpoint.sameOrigin ? this._followLogin() : this._promptToken()
      ).finally(() => (this._loggingIn = null));
    }
    return this._loggingIn;
  }

  private async _followLogin(): Promise<boolean> {
    if (this._loginFollowed) {
      return false; // the login is not something a redirect can do
    }
    this._loginFollowed = true;
    const page = await fetch(this.url('app/'), { credentials: 'same-origin' });
    this._xsrf = null;
    return page.ok;
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

  private _xsrf: Promise<string> | null = null;
  private _loggingIn: Promise<boolean> | null = null;
  private _loginFollowed = false;
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
