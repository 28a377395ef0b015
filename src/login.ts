import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

/**
 * Asks for a token to a proxy on another origin. The token stays in this
 * tab (`sessionStorage`); a site should never carry one, since whatever a
 * public page holds is public.
 */
export async function askForToken(
  url: string,
  retry: boolean,
  trans: TranslationBundle
): Promise<string | null> {
  const result = await showDialog({
    title: trans.__('Log in to the storage proxy'),
    body: new TokenForm(url, retry, trans),
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: trans.__('Log In') })
    ],
    focusNodeSelector: 'input'
  });
  return result.button.accept && result.value ? result.value : null;
}

class TokenForm extends Widget implements Dialog.IBodyWidget<string> {
  constructor(url: string, retry: boolean, trans: TranslationBundle) {
    super();
    this.addClass('jp-fsspec-proxy-login');
    const text = document.createElement('p');
    text.textContent = retry
      ? trans.__('The proxy at %1 refused the token. Enter a valid one:', url)
      : trans.__('The proxy at %1 needs a token:', url);
    this._input.type = 'password';
    this._input.autocomplete = 'off';
    this._input.placeholder = trans.__('token');
    this._input.setAttribute('aria-label', trans.__('Token'));
    this.node.append(text, this._input);
  }

  getValue(): string {
    return this._input.value.trim();
  }

  private _input = document.createElement('input');
}
