import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedStatement, migrate, openSqliteFile, openSqliteIn, openSqliteReader } from './sqlite-file.js';

describe('sqlite-file: one way to open a backend SQLite file', () => {
  let dir: string;
  const open: Database.Database[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-file-'));
  });
  afterEach(() => {
    for (const db of open.splice(0)) if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const track = (db: Database.Database) => (open.push(db), db);

  it('creates the folder, uses WAL, the durability asked for, and never waits for a lock', () => {
    const full = track(openSqliteIn(join(dir, 'deep', 'er'), 'a.sqlite', { durability: 'full' }));
    expect(full.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(full.pragma('synchronous', { simple: true })).toBe(2);
    expect(full.pragma('busy_timeout', { simple: true })).toBe(0);
    const normal = track(openSqliteFile(join(dir, 'deep', 'er', 'a.sqlite'), { durability: 'normal', fileMustExist: true }));
    expect(normal.pragma('synchronous', { simple: true })).toBe(1);
    expect(normal.pragma('busy_timeout', { simple: true })).toBe(0);
  });

  it('fails at once, not after a wait, when another connection holds the write lock', () => {
    const file = join(dir, 'locked.sqlite');
    const owner = track(openSqliteFile(file, { durability: 'normal', migrations: ['CREATE TABLE t (x)'] }));
    const other = track(openSqliteFile(file, { durability: 'normal', fileMustExist: true }));
    owner.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    expect(() => other.exec('INSERT INTO t VALUES (1)')).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
    expect(Date.now() - started).toBeLessThan(100);
    owner.exec('ROLLBACK');
  });

  it('migrates from user_version, each step once, stopping at toVersion, and resumes later', () => {
    const steps = [
      'CREATE TABLE t (x)',
      (db: Database.Database) => db.prepare('INSERT INTO t VALUES (?)').run(2),
      {
        ownTransactions: (db: Database.Database) => {
          db.transaction(() => db.exec('INSERT INTO t VALUES (3)'))();
          db.transaction(() => db.pragma('user_version = 3'))();
        },
      },
    ];
    const db = track(openSqliteFile(join(dir, 'm.sqlite'), { durability: 'normal', migrations: steps, toVersion: 2 }));
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    migrate(db, steps);
    migrate(db, steps);
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    expect(db.prepare('SELECT x FROM t ORDER BY x').pluck().all()).toEqual([2, 3]);
  });

  it('rolls a failed step back, leaving the version where it was, and closes the file it could not open', () => {
    const file = join(dir, 'bad.sqlite');
    expect(() => openSqliteFile(file, { durability: 'normal', migrations: ['CREATE TABLE t (x)', 'CREATE TABLE t (x)'] })).toThrow(
      /already exists/,
    );
    const db = track(new Database(file));
    expect(db.pragma('user_version', { simple: true })).toBe(1);
  });

  it('prepares a statement once per connection and SQL, raw apart', () => {
    const db = track(
      openSqliteFile(join(dir, 's.sqlite'), { durability: 'normal', migrations: ['CREATE TABLE t (x); INSERT INTO t VALUES (7)'] }),
    );
    const first = cachedStatement(db, 'SELECT x FROM t');
    expect(cachedStatement(db, 'SELECT x FROM t')).toBe(first);
    expect(cachedStatement(db, 'SELECT x FROM t', true).all()).toEqual([[7]]);
    expect(first.all()).toEqual([{ x: 7 }]);
    const reader = track(openSqliteReader(join(dir, 's.sqlite')));
    expect(cachedStatement(reader, 'SELECT x FROM t')).not.toBe(first);
    expect(reader.readonly).toBe(true);
  });
});
