/** strerror(3) wording for errno codes (Node only gives the code), for Postfix-style texts. */

const TEXT: Record<string, string> = {
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EFBIG: 'File too large',
  EROFS: 'Read-only file system',
  EIO: 'Input/output error',
  EEXIST: 'File exists',
  EMFILE: 'Too many open files',
  ENOEXEC: 'Exec format error',
  ELOOP: 'Too many levels of symbolic links',
  EAGAIN: 'Resource temporarily unavailable',
  ETXTBSY: 'Text file busy',
  EPIPE: 'Broken pipe',
};

export function strerror(err: NodeJS.ErrnoException): string {
  return (err.code && TEXT[err.code]) ?? err.message;
}
