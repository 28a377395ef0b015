import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * The page-config option naming the proxy: set by the server extension
 * (`c.FsspecProxy.drive_url`) in JupyterLab, by `jupyter-config-data` of
 * `jupyter-lite.json` in JupyterLite.
 */
export const PAGE_CONFIG_OPTION = 'fsspecProxyUrl';

const MARKER = '/fsspec-proxy/';

/**
 * Where the proxy answers, and how the page authenticates to it.
 */
export interface IEndpoint {
  /**
   * The proxy's absolute URL, ending in `fsspec-proxy/`.
   */
  readonly url: string;
  /**
   * Whether the page shares the proxy's origin: then the session cookie and
   * the XSRF token authenticate, else a token the user types.
   */
  readonly sameOrigin: boolean;
}

/**
 * The proxy for this page: the `url` setting, else the page config, else the
 * server this page came from.
 */
export function findEndpoint(setting: string): IEndpoint {
  const chosen =
    setting || PageConfig.getOption(PAGE_CONFIG_OPTION) || serverOfPage();
  const url = new URL(withMarker(chosen), window.location.href);
  return { url: url.href, sameOrigin: url.origin === window.location.origin };
}

/**
 * `{base_url}fsspec-proxy/` of a JupyterLab; for a JupyterLite site served by
 * the proxy (`fsspec-proxy/lite/`), the proxy above it.
 */
function serverOfPage(): string {
  const { baseUrl } = ServerConnection.makeSettings();
  const base = new URL(baseUrl, window.location.href).href;
  const at = base.lastIndexOf(MARKER);
  return at >= 0
    ? base.slice(0, at + MARKER.length)
    : URLExt.join(base, MARKER.slice(1));
}

/**
 * The URL ending in `fsspec-proxy/`, as the Python client reads its
 * `endpoint_url`.
 */
function withMarker(url: string): string {
  const slashed = url.replace(/\/*$/, '/');
  return slashed.endsWith(MARKER) ? slashed : slashed + MARKER.slice(1);
}
