/**
 * The page of a webview panel of the extension: a strict Content-Security-Policy
 * (nothing from the network; styles from the extension's files; scripts only with
 * the page's nonce), one stylesheet and the scripts, all from the extension's own
 * files.
 */

import * as crypto from 'crypto';
import * as vscode from 'vscode';

export interface Page {
  title: string;
  /** The stylesheet, relative to the extension. */
  stylesheet: string[];
  /** The body's HTML, before the scripts. */
  body: string;
  /** In order: a file relative to the extension, or a short inline script. */
  scripts: ({ file: string[] } | { inline: string })[];
}

export function webviewPage(webview: vscode.Webview, extensionUri: vscode.Uri, page: Page): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  const file = (parts: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const scripts = page.scripts
    .map((script) =>
      'file' in script
        ? `<script nonce="${nonce}" src="${file(script.file)}"></script>`
        : `<script nonce="${nonce}">${script.inline}</script>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${file(page.stylesheet)}">
<title>${page.title}</title>
</head>
<body>
${page.body}
${scripts}
</body>
</html>`;
}
