import { PathExt } from '@jupyterlab/coreutils';

/**
 * The `proxy://` URL of a drive path (`Scratch/a.csv`): what the Python
 * client opens.
 */
export function proxyUrl(localPath: string): string {
  return `proxy://${localPath}`;
}

/**
 * Python that opens the file or folder at `url`, by its kind. It names no
 * credential: the client finds the proxy and logs in on its own.
 */
export function codeFor(url: string, isDirectory: boolean): string {
  const quoted = JSON.stringify(url);
  const ext = PathExt.extname(url).toLowerCase();
  const lines = ['import fsspec_proxy_client  # registers proxy://'];
  if (isDirectory && ext === '.zarr') {
    lines.push('import xarray as xr', '', `ds = xr.open_zarr(${quoted})`);
  } else if (isDirectory) {
    lines.push(
      'import fsspec',
      '',
      'fs = fsspec.filesystem("proxy")',
      `fs.ls(${JSON.stringify(url.slice('proxy://'.length))})`
    );
  } else if (ext === '.csv' || ext === '.tsv') {
    const separator = ext === '.tsv' ? ', sep="\\t"' : '';
    lines.push(
      'import pandas as pd',
      '',
      `df = pd.read_csv(${quoted}${separator})`
    );
  } else if (ext === '.parquet') {
    lines.push('import pandas as pd', '', `df = pd.read_parquet(${quoted})`);
  } else if (ext === '.json') {
    lines.push(
      'import json',
      '',
      'import fsspec',
      '',
      `with fsspec.open(${quoted}) as f:`,
      '    data = json.load(f)'
    );
  } else {
    lines.push(
      'import fsspec',
      '',
      `with fsspec.open(${quoted}, "rb") as f:`,
      '    data = f.read()'
    );
  }
  return lines.join('\n') + '\n';
}
