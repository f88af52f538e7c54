/**
 * mailauth, loaded on first use: the library costs about 35 MB of memory once imported, and
 * most servers (or most messages: SASL and mynetworks clients are never checked) do not
 * need it. SPF (policy/), verification and DKIM signing (cleanup/) ask for it here.
 */

type Mailauth = typeof import('mailauth');

let loading: Promise<Mailauth> | undefined;

export function loadMailauth(): Promise<Mailauth> {
  loading ??= import('mailauth');
  return loading;
}
