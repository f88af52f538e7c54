import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate } from './template.js';
import { compileQuery, type Dialect } from './sql-text.js';

const sql = (q: string, d: Dialect): string => compileQuery(parseTemplate(q), d).sql;

test('a whole-literal escape becomes the bare placeholder of each dialect', () => {
  const q = "SELECT goto FROM alias WHERE address='%s' AND active = '1'";
  assert.equal(sql(q, 'mysql'), "SELECT goto FROM alias WHERE address=? AND active = '1'");
  assert.equal(sql(q, 'sqlite'), "SELECT goto FROM alias WHERE address=? AND active = '1'");
  assert.equal(sql(q, 'pgsql'), "SELECT goto FROM alias WHERE address=$1 AND active = '1'");
  assert.equal(compileQuery(parseTemplate(q), 'pgsql').textSql, "SELECT goto FROM alias WHERE address=CAST($1 AS text) AND active = '1'");
  assert.equal(compileQuery(parseTemplate(q), 'mysql').textSql, undefined);
});

test('an escape inside a longer literal becomes a concatenation; %% stays a percent sign', () => {
  const q = "SELECT 1 FROM t WHERE a LIKE '%%@%d' AND b = 'it''s %u!'";
  assert.equal(sql(q, 'mysql'), "SELECT 1 FROM t WHERE a LIKE CONCAT('%@', ?) AND b = CONCAT('it''s ', ?, '!')");
  assert.equal(sql(q, 'sqlite'), "SELECT 1 FROM t WHERE a LIKE ('%@' || ?) AND b = ('it''s ' || ? || '!')");
  assert.equal(sql(q, 'pgsql'), "SELECT 1 FROM t WHERE a LIKE ('%@' || CAST($1 AS text)) AND b = ('it''s ' || CAST($2 AS text) || '!')");
  assert.deepEqual(compileQuery(parseTemplate(q), 'pgsql').slots, ['d', 'u']);
});

test('MySQL: double quotes are strings, backslashes escape, # and "-- " are comments', () => {
  assert.equal(sql('SELECT x FROM t WHERE a="%s"', 'mysql'), 'SELECT x FROM t WHERE a=?');
  assert.equal(sql("SELECT 'a\\'b', x FROM t WHERE a='%s' # %u", 'mysql'), "SELECT 'a\\'b', x FROM t WHERE a=? # ");
  assert.equal(sql("SELECT x FROM t WHERE a='\\\\%s'", 'mysql'), "SELECT x FROM t WHERE a=CONCAT('\\\\', ?)");
  assert.equal(sql('SELECT x FROM t WHERE a=5--%s', 'mysql'), 'SELECT x FROM t WHERE a=5--?', '"--" without a space is not a MySQL comment');
  assert.throws(() => sql("SELECT x FROM t WHERE a='\\%s'", 'mysql'), /right after a backslash/);
  assert.throws(() => sql("SELECT x FROM t WHERE a=N'%s'", 'mysql'), /prefixed string/);
});

test('PostgreSQL: double quotes are identifiers; E strings and dollar quotes cannot hold escapes', () => {
  assert.equal(sql('SELECT "goto" FROM "alias" WHERE address = \'%s\'', 'pgsql'), 'SELECT "goto" FROM "alias" WHERE address = $1');
  assert.throws(() => sql('SELECT x FROM "t%s"', 'pgsql'), /quoted identifier/);
  assert.throws(() => sql("SELECT x FROM t WHERE a=E'%s'", 'pgsql'), /E'' string/);
  assert.throws(() => sql('SELECT $q$%s$q$', 'pgsql'), /dollar-quoted/);
  assert.equal(sql("SELECT $$it's$$ || '%s'", 'pgsql'), "SELECT $$it's$$ || $1");
  assert.equal(sql("SELECT x /* a /* nested %s */ b */ FROM t WHERE a='%s'", 'pgsql'), 'SELECT x /* a /* nested  */ b */ FROM t WHERE a=$1');
});

test("the admin's own placeholders are refused: they would shift the bound values", () => {
  assert.throws(() => sql('SELECT x FROM t WHERE a=?', 'mysql'), /"\?"/);
  assert.throws(() => sql('SELECT x FROM t WHERE a=?', 'sqlite'), /"\?"/);
  assert.throws(() => sql('SELECT x FROM t WHERE a=:key', 'sqlite'), /named parameter/);
  assert.throws(() => sql('SELECT x FROM t WHERE a=$1', 'pgsql'), /placeholder \$1/);
  assert.equal(sql("SELECT x FROM t WHERE a='what?' AND b='%s'", 'mysql'), "SELECT x FROM t WHERE a='what?' AND b=?", 'a "?" inside a string is text');
});

test('unterminated strings, identifiers and comments are reported', () => {
  assert.throws(() => sql("SELECT x WHERE a='%s", 'mysql'), /unterminated '…' string/);
  assert.throws(() => sql('SELECT `x', 'mysql'), /unterminated quoted identifier/);
  assert.throws(() => sql('SELECT x /* y', 'sqlite'), /unterminated \/\* comment/);
});
