import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { ProxyDrive } from './drive';
import { parquetPlugin } from './parquet';
// Needed at start: documents restored with the layout may live in the drive.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { startStorage } from './storage';
import { IStorageDrive } from './tokens';

const PLUGIN_ID = 'jupyter-fsspec-proxy:plugin';

/**
 * The proxy's sources as the "Storage" drive, in a file browser in the left
 * sidebar.
 */
const drivePlugin: JupyterFrontEndPlugin<ProxyDrive> = {
  id: PLUGIN_ID,
  description: "The fsspec-proxy's sources as a drive in the file browser",
  autoStart: true,
  requires: [IFileBrowserFactory],
  optional: [ISettingRegistry, ITranslator, ILayoutRestorer, ICommandPalette],
  provides: IStorageDrive,
  activate: async (
    app: JupyterFrontEnd,
    factory: IFileBrowserFactory,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): Promise<ProxyDrive> => {
    const settings = settingRegistry
      ? await settingRegistry.load(PLUGIN_ID)
      : null;
    return startStorage(
      app,
      factory,
      settings,
      translator ?? nullTranslator,
      restorer,
      palette
    );
  }
};

export default [drivePlugin, parquetPlugin];
