import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';

import { createStorageBrowser } from './browser';
import { ProxyConnection } from './connection';
import { ProxyDrive } from './drive';
import { findEndpoint } from './endpoint';
import { askForToken } from './login';

const MiB = 1024 * 1024;

/**
 * Finds the proxy, mounts its drive and shows its file browser ("Storage")
 * in the left sidebar.
 */
export function startStorage(
  app: JupyterFrontEnd,
  factory: IFileBrowserFactory,
  settings: ISettingRegistry.ISettings | null,
  translator: ITranslator,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null
): ProxyDrive {
  const trans = translator.load('jupyterlab');
  const endpoint = findEndpoint((settings?.composite.url as string) ?? '');
  const connection = new ProxyConnection(endpoint, (url, retry) =>
    askForToken(url, retry, trans)
  );
  const drive = new ProxyDrive({
    connection,
    docRegistry: app.docRegistry,
    maxOpenSize: () => ((settings?.composite.maxOpenSize as number) ?? 32) * MiB
  });
  app.serviceManager.contents.addDrive(drive);
  const browser = createStorageBrowser(
    app,
    factory,
    drive,
    translator,
    palette
  );
  app.shell.add(browser, 'left', { rank: 110 });
  restorer?.add(browser, browser.id);
  return drive;
}
