/**
 * Test messages in Japanese charsets and MIME encodings, built by Python's codecs, base64
 * and quopri modules (an encoder independent of the decoders Postern uses), so a test can
 * prove that a rule written in Japanese matches the decoded text. Every message says
 * SPAM_PHRASE somewhere, encoded as its name says; the plain ones do not.
 */

import { run } from './server.js';

/** The phrase the spam rules look for: "today only, huge discount sale". */
export const SPAM_PHRASE = '本日限定の激安セール';
/** A harmless Japanese line ("thank you for the meeting"). */
export const HAM_PHRASE = '打ち合わせありがとうございました';

export type FixtureName =
  | 'iso2022jp-base64' | 'sjis-qp' | 'eucjp-8bit' | 'utf8-base64' | 'utf8-8bit' | 'html-only-iso2022jp'
  | 'subject-iso2022jp' | 'multipart-attachment' | 'nested-message' | 'ham-iso2022jp';

const SCRIPT = String.raw`
import base64, json, quopri, sys
spam, ham = sys.argv[1], sys.argv[2]
def b64(b): return base64.encodebytes(b).decode().replace('\n', '\r\n')
def qp(b): return quopri.encodestring(b).decode().replace('\n', '\r\n')
def msg(headers, body):
    h = ''.join(f'{k}: {v}\r\n' for k, v in headers)
    return (h + '\r\n' + body).encode('latin1') if isinstance(body, str) else h.encode() + b'\r\n' + body
base = [('From', 'spammer@example.org'), ('To', 'bob@mx.test'), ('Message-ID', '<m@example.org>'), ('MIME-Version', '1.0')]
text = f'こんにちは。\n{spam}を開催中です。\nよろしくお願いします。\n'
out = {}
out['iso2022jp-base64'] = msg(base + [('Subject', 'info'), ('Content-Type', 'text/plain; charset=ISO-2022-JP'), ('Content-Transfer-Encoding', 'base64')], b64(text.encode('iso-2022-jp')))
out['sjis-qp'] = msg(base + [('Subject', 'info'), ('Content-Type', 'text/plain; charset=Shift_JIS'), ('Content-Transfer-Encoding', 'quoted-printable')], qp(('①㈱ ' + text).encode('cp932')))
out['eucjp-8bit'] = msg(base + [('Subject', 'info'), ('Content-Type', 'text/plain; charset=EUC-JP'), ('Content-Transfer-Encoding', '8bit')], text.replace('\n', '\r\n').encode('euc-jp'))
out['utf8-base64'] = msg(base + [('Subject', 'info'), ('Content-Type', 'text/plain; charset=UTF-8'), ('Content-Transfer-Encoding', 'base64')], b64(text.encode('utf-8')))
out['utf8-8bit'] = msg(base + [('Subject', 'info'), ('Content-Type', 'text/plain; charset=UTF-8'), ('Content-Transfer-Encoding', '8bit')], text.replace('\n', '\r\n').encode('utf-8'))
html = f'<html><body><p>{spam[:4]}<b>{spam[4:]}</b></p></body></html>\n'
out['html-only-iso2022jp'] = msg(base + [('Subject', 'info'), ('Content-Type', 'text/html; charset=ISO-2022-JP'), ('Content-Transfer-Encoding', 'base64')], b64(html.encode('iso-2022-jp')))
subj = '=?ISO-2022-JP?B?' + base64.b64encode(spam.encode('iso-2022-jp')).decode() + '?='
out['subject-iso2022jp'] = msg(base + [('Subject', subj), ('Content-Type', 'text/plain; charset=US-ASCII')], 'hello\r\n')
mixed = ('--B1\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
  + ham.encode('iso-2022-jp').decode('ascii') + '\r\n--B1\r\nContent-Type: application/octet-stream; name="a.exe"\r\n'
  + 'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="a.exe"\r\n\r\n'
  + b64(b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff' * 4) + '--B1--\r\n')
out['multipart-attachment'] = msg(base + [('Subject', 'files'), ('Content-Type', 'multipart/mixed; boundary="B1"')], mixed)
inner_subj = '=?ISO-2022-JP?B?' + base64.b64encode(spam.encode('iso-2022-jp')).decode() + '?='
nested = ('--B2\r\nContent-Type: text/plain; charset=US-ASCII\r\n\r\nsee attached\r\n--B2\r\nContent-Type: message/rfc822\r\n\r\n'
  + f'From: other@example.net\r\nSubject: {inner_subj}\r\n\r\nforwarded\r\n--B2--\r\n')
out['nested-message'] = msg(base + [('Subject', 'fwd'), ('Content-Type', 'multipart/mixed; boundary="B2"')], nested)
out['ham-iso2022jp'] = msg(base + [('Subject', 'thanks'), ('Content-Type', 'text/plain; charset=ISO-2022-JP'), ('Content-Transfer-Encoding', 'base64')], b64((ham + '\n').encode('iso-2022-jp')))
print(json.dumps({k: base64.b64encode(v).decode() for k, v in out.items()}))
`;

let cached: Promise<Record<FixtureName, Buffer>> | undefined;

export function japaneseFixtures(): Promise<Record<FixtureName, Buffer>> {
  cached ??= (async () => {
    const r = await run('python3', ['-c', SCRIPT, SPAM_PHRASE, HAM_PHRASE]);
    if (r.code !== 0) throw new Error(`python3 fixture builder failed: ${r.stderr}`);
    const raw = JSON.parse(r.stdout) as Record<string, string>;
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Buffer.from(v, 'base64')])) as Record<FixtureName, Buffer>;
  })();
  return cached;
}
