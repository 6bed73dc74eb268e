/* A SQL workload for sqlite3 built by llpar and by the serial reference: the same statements,
 * the same output, so the two programs can be compared byte for byte and timed. */
#include <stdio.h>
#include <stdlib.h>
#include "sqlite3.h"

static int print_row(void *unused, int n, char **values, char **names) {
  (void)unused;
  (void)names;
  for (int i = 0; i < n; i++)
    printf("%s%s", i ? "|" : "", values[i] ? values[i] : "NULL");
  printf("\n");
  return 0;
}

static void exec(sqlite3 *db, const char *sql) {
  char *error = 0;
  if (sqlite3_exec(db, sql, print_row, 0, &error) != SQLITE_OK) {
    fprintf(stderr, "sqlite error: %s\n", error);
    exit(1);
  }
}

int main(int argc, char **argv) {
  int rows = argc > 1 ? atoi(argv[1]) : 200000;
  sqlite3 *db;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK)
    return 1;
  exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT);"
           "CREATE TABLE u(a INTEGER PRIMARY KEY, name TEXT);");
  exec(db, "BEGIN");
  sqlite3_stmt *insert;
  sqlite3_prepare_v2(db, "INSERT INTO t(a, b, c) VALUES(?, ?, ?)", -1, &insert, 0);
  unsigned state = 12345;
  char text[32];
  for (int i = 0; i < rows; i++) {
    state = state * 1103515245u + 12345u;
    int a = (state >> 8) % 1000;
    snprintf(text, sizeof text, "row%u-%d", state % 9973, i % 17);
    sqlite3_bind_int(insert, 1, a);
    sqlite3_bind_double(insert, 2, (state % 100000) / 7.0);
    sqlite3_bind_text(insert, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_step(insert);
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  for (int i = 0; i < 1000; i += 3) {
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO u VALUES(%d, 'name%d');", i, i * 7 % 101);
    exec(db, sql);
  }
  exec(db, "COMMIT");
  exec(db, "CREATE INDEX ta ON t(a); CREATE INDEX tc ON t(c);");
  exec(db, "SELECT a % 10, count(*), sum(b), min(c), max(c) FROM t GROUP BY a % 10 ORDER BY 1;");
  exec(db, "SELECT u.name, count(*), round(avg(t.b), 3) FROM t JOIN u ON t.a = u.a "
           "GROUP BY u.name ORDER BY 2 DESC, 1 LIMIT 10;");
  exec(db, "SELECT count(*) FROM t WHERE c LIKE 'row1%-3';");
  exec(db, "SELECT c, a FROM t WHERE a BETWEEN 500 AND 502 ORDER BY c LIMIT 5;");
  exec(db, "UPDATE t SET b = b * 2 WHERE a < 100; DELETE FROM t WHERE a > 900;");
  exec(db, "SELECT count(*), round(sum(b), 2), group_concat(DISTINCT a % 7) FROM t;");
  exec(db, "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 100000) "
           "SELECT sum(x), count(*) FROM r;");
  exec(db, "SELECT substr(c, 1, 6) AS p, count(*) FROM t GROUP BY p ORDER BY 2 DESC, 1 LIMIT 5;");
  sqlite3_close(db);
  return 0;
}
