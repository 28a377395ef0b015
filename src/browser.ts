import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  showErrorMessage,
  ToolbarButton
} from '@jupyterlab/apputils';
import { PathExt, Time } from '@jupyterlab/coreutils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import {
  DirListing,
  FileBrowser,
  IFileBrowserFactory,
  Uploader
} from '@jupyterlab/filebrowser';
import { Contents } from '@jupyterlab/services';
import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  LabIcon,
  newFolderIcon,
  refreshIcon,
  stopIcon
} from '@jupyterlab/ui-components';

import storageSvg from '../style/icons/storage.svg';
import { ProxyDrive } from './drive';
import { codeFor, proxyUrl } from './snippets';

export const BROWSER_ID = 'fsspec-proxy-browser';
const READONLY_CLASS = 'jp-fsspec-proxy-readonly';
const BADGE_ATTRIBUTE = 'data-fsspec-proxy-badge';
const LAUNCHER = 'launcher:create';
const REFRESH_INTERVAL = 30_000; // listings of cloud storage are not free

export const storageIcon = new LabIcon({
  name: 'jupyter-fsspec-proxy:storage',
  svgstr: storageSvg
});

export namespace CommandIDs {
  export const copyUrl = 'fsspec-proxy:copy-url';
  export const copyCode = 'fsspec-proxy:copy-code';
  export const logIn = 'fsspec-proxy:log-in';
  export const logOut = 'fsspec-proxy:log-out';
  export const cancelUploads = 'fsspec-proxy:cancel-uploads';
}

/**
 * JupyterLab's own file browser on the drive, in the left sidebar, with the
 * toolbar of the default one and the read-only sources marked.
 */
export function createStorageBrowser(
  app: JupyterFrontEnd,
  factory: IFileBrowserFactory,
  drive: ProxyDrive,
  translator: ITranslator,
  palette: ICommandPalette | null
): FileBrowser {
  const trans = translator.load('jupyterlab');
  const browser = factory.createFileBrowser(BROWSER_ID, {
    driveName: drive.name,
    refreshInterval: REFRESH_INTERVAL,
    renderer: new SourcesRenderer(trans)
  });
  browser.title.icon = storageIcon;
  browser.title.caption = trans.__('Storage (fsspec-proxy)');
  browser.node.setAttribute('aria-label', trans.__('Storage'));
  // the launcher's command exists once its plugin started, if the app has one
  void app.restored.then(() => {
    if (app.commands.hasCommand(LAUNCHER)) {
      const launcher = new ToolbarButton({
        icon: addIcon,
        tooltip: trans.__('New Launcher (new notebooks and files go here)'),
        onClick: () =>
          void app.commands.execute(LAUNCHER, { cwd: browser.model.path })
      });
      browser.toolbar.insertItem(0, 'new-launcher', launcher);
    }
  });
  browser.toolbar.addItem(
    'new-directory',
    new ToolbarButton({
      icon: newFolderIcon,
      tooltip: trans.__('New Folder'),
      onClick: () => void browser.createNewDirectory()
    })
  );
  browser.toolbar.addItem(
    'uploader',
    new Uploader({ model: browser.model, translator })
  );
  browser.toolbar.addItem(
    'cancel-uploads',
    cancelUploadsButton(app, browser, trans)
  );
  browser.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: trans.__('Refresh the Storage List'),
      onClick: () => {
        drive.connection.allowLogin();
        void browser.model.refresh();
      }
    })
  );
  refreshOnChanges(browser, drive);
  showListingErrors(browser, trans);
  addCommands(app, browser, drive, trans);
  const paletteCommands = [
    CommandIDs.logIn,
    CommandIDs.logOut,
    CommandIDs.cancelUploads
  ];
  for (const command of paletteCommands) {
    palette?.addItem({ command, category: trans.__('Storage') });
  }
  return browser;
}

/**
 * A button of the panel's toolbar, shown while files are uploading (the
 * status bar shows their progress), that cancels the uploads.
 */
function cancelUploadsButton(
  app: JupyterFrontEnd,
  browser: FileBrowser,
  trans: TranslationBundle
): ToolbarButton {
  const button = new ToolbarButton({
    icon: stopIcon,
    tooltip: trans.__('Cancel Uploads (nothing of them is kept)'),
    onClick: () => void app.commands.execute(CommandIDs.cancelUploads)
  });
  button.hide();
  browser.model.uploadChanged.connect(() =>
    button.setHidden([...browser.model.uploads()].length === 0)
  );
  return button;
}

/**
 * Lists the folder shown again when the drive changed something in it.
 * (JupyterLab 4.6's browser model misses the changes of drives other than
 * the default one: it prefixes their already global paths with the drive's
 * name a second time.)
 */
function refreshOnChanges(browser: FileBrowser, drive: ProxyDrive) {
  drive.fileChanged.connect((_, change) => {
    const shown = browser.model.manager.services.contents.localPath(
      browser.model.path
    );
    const paths = [change.oldValue?.path, change.newValue?.path];
    if (paths.some(path => path && PathExt.dirname(path) === shown)) {
      void browser.model.refresh();
    }
  });
}

/**
 * Shows why a folder could not be listed: JupyterLab reports only 404s, but
 * the proxy also answers 403 (access rules), 503 (a source down), ... The
 * same message is not repeated by each refresh of the listing.
 */
function showListingErrors(browser: FileBrowser, trans: TranslationBundle) {
  let shown = '';
  browser.model.connectionFailure.connect((_, error) => {
    const status = (error as any).response?.status;
    if (status !== 404 && error.message !== shown) {
      shown = error.message;
      void showErrorMessage(trans.__('Storage'), error);
    }
  });
  browser.model.refreshed.connect(() => (shown = ''));
}

function addCommands(
  app: JupyterFrontEnd,
  browser: FileBrowser,
  drive: ProxyDrive,
  trans: TranslationBundle
) {
  const selected = (): Contents.IModel | undefined => {
    const item = browser.selectedItems().next();
    return item.done ? undefined : item.value;
  };
  const localPath = (model: Contents.IModel) =>
    model.path.slice(model.path.indexOf(':') + 1);
  const itemSelector = `#${BROWSER_ID} .jp-DirListing-item[data-isdir]`;
  const noArgs = { args: { type: 'object' as const, properties: {} } };
  app.commands.addCommand(CommandIDs.copyUrl, {
    label: trans.__('Copy proxy:// Path'),
    describedBy: noArgs,
    caption: trans.__('Copy the path for fsspec in Python'),
    isVisible: () => selected() !== undefined,
    execute: () => {
      const model = selected();
      if (model) {
        Clipboard.copyToSystem(proxyUrl(localPath(model)));
      }
    }
  });
  app.commands.addCommand(CommandIDs.copyCode, {
    label: trans.__('Copy Code to Open'),
    describedBy: noArgs,
    caption: trans.__('Copy Python that opens it (no credential in it)'),
    isVisible: () => selected() !== undefined,
    execute: () => {
      const model = selected();
      if (model) {
        const url = proxyUrl(localPath(model));
        Clipboard.copyToSystem(codeFor(url, model.type === 'directory'));
      }
    }
  });
  app.commands.addCommand(CommandIDs.logIn, {
    label: trans.__('Log In to the Storage Proxy'),
    describedBy: noArgs,
    isVisible: () => !drive.connection.endpoint.sameOrigin,
    execute: () => {
      drive.connection.allowLogin();
      void browser.model.cd('/');
    }
  });
  app.commands.addCommand(CommandIDs.logOut, {
    label: trans.__('Log Out of the Storage Proxy'),
    describedBy: noArgs,
    isVisible: () => !drive.connection.endpoint.sameOrigin,
    execute: () => {
      drive.connection.logOut();
      void browser.model.cd('/');
    }
  });
  app.commands.addCommand(CommandIDs.cancelUploads, {
    label: trans.__('Cancel Uploads to Storage'),
    describedBy: noArgs,
    caption: trans.__('Stop the uploads under way: nothing of them is kept'),
    isEnabled: () => drive.uploading,
    execute: () => drive.cancelUploads()
  });
  app.contextMenu.addItem({
    command: CommandIDs.copyUrl,
    selector: itemSelector,
    rank: 14
  });
  app.contextMenu.addItem({
    command: CommandIDs.copyCode,
    selector: itemSelector,
    rank: 14.1
  });
}

/**
 * The file browser's rows, with the sources the user may not write to
 * marked read-only, and the rows' dates written with one formatter:
 * JupyterLab makes an `Intl.DateTimeFormat` for each date it writes (two a
 * row), which was half the time a folder of 10,000 entries took to show.
 */
class SourcesRenderer extends DirListing.Renderer {
  constructor(private readonly _trans: TranslationBundle) {
    super();
  }

  updateItemModified(
    modified: HTMLElement,
    modifiedDate: string,
    modifiedStyle: Time.HumanStyle
  ): void {
    const shown = `${modifiedStyle} ${modifiedDate}`;
    if (this._modifiedShown.get(modified) === shown) {
      return;
    }
    const date = new Date(modifiedDate);
    modified.textContent = Time.formatHuman(date, modifiedStyle);
    modified.title = this._fullDate().format(date);
    this._modifiedShown.set(modified, shown);
  }

  updateItemNode(
    node: HTMLElement,
    model: Contents.IModel,
    fileType?: DocumentRegistry.IFileType,
    translator?: ITranslator,
    hiddenColumns?: Set<DirListing.ToggleableColumn>,
    selected?: boolean,
    modifiedStyle?: Time.HumanStyle,
    ...rest: any[]
  ): void {
    // JupyterLab's renderer writes the row without its date, this one the date
    const undated = { ...model, last_modified: '' };
    super.updateItemNode(
      node,
      undated,
      fileType,
      translator,
      hiddenColumns,
      selected,
      modifiedStyle,
      ...rest
    );
    // JupyterLab rewrites the title only of a row that changed
    const before = this._titles.get(node);
    let title =
      before && before.title === node.title ? before.base : node.title;
    const base = title;
    const modified = node.querySelector<HTMLElement>(
      '.jp-DirListing-itemModified'
    );
    if (model.last_modified) {
      const date = this._fullDate().format(new Date(model.last_modified));
      title += this._trans.__('\nModified: %1', date);
      if (modified) {
        this.updateItemModified(
          modified,
          model.last_modified,
          modifiedStyle ?? 'short'
        );
      }
    } else if (modified) {
      // a source's row, maybe a file's row before: no date
      modified.textContent = modified.title = '';
      this._modifiedShown.delete(modified);
    }
    const local = model.path.slice(model.path.indexOf(':') + 1);
    const readonlySource = PathExt.dirname(local) === '' && !model.writable;
    node.classList.toggle(READONLY_CLASS, readonlySource);
    // the badge sits in the Modified column, which sources leave empty
    if (readonlySource) {
      title += this._trans.__('\nRead-only source');
      modified?.setAttribute(BADGE_ATTRIBUTE, this._trans.__('read-only'));
    } else {
      modified?.removeAttribute(BADGE_ATTRIBUTE);
    }
    node.title = title;
    this._titles.set(node, { base, title });
  }

  /**
   * A formatter of dates as `Time.format` writes them, for the page's language.
   */
  private _fullDate(): Intl.DateTimeFormat {
    const language = document.documentElement.lang || 'en';
    if (!this._dateFormat || this._dateLanguage !== language) {
      this._dateFormat = new Intl.DateTimeFormat(language, {
        dateStyle: 'short',
        timeStyle: 'short'
      });
      this._dateLanguage = language;
    }
    return this._dateFormat;
  }

  private _dateFormat: Intl.DateTimeFormat | null = null;
  private _dateLanguage = '';
  private _modifiedShown = new WeakMap<HTMLElement, string>();
  private _titles = new WeakMap<HTMLElement, { base: string; title: string }>();
}
