import { Token } from '@lumino/coreutils';

import { ProxyDrive } from './drive';

/**
 * The drive of the proxy's sources, for plugins that read from it.
 */
export const IStorageDrive = new Token<ProxyDrive>(
  'jupyter-fsspec-proxy:IStorageDrive',
  "The drive of the fsspec-proxy's sources"
);
