//! What a `hotline bench-intake` run cost ([`super::intake`]): rows, index entries, buffers
//! and scans per table (`pg_stat_user_tables`, `pg_statio_user_tables` deltas), and CPU
//! seconds of the engine, its PostgreSQL backends and RabbitMQ (`/proc/<pid>/stat`).

use sqlx::PgPool;
use std::collections::HashMap;

/// What PostgreSQL counted for one table of the engine, and its indexes.
#[derive(Clone, Default)]
pub(super) struct TableDelta {
    pub(super) name: String,
    pub(super) inserted: i64,
    pub(super) updated: i64,
    pub(super) hot_updated: i64,
    pub(super) deleted: i64,
    pub(super) seq_scans: i64,
    pub(super) index_scans: i64,
    pub(super) indexes: i64,
    pub(super) buffers_hit: i64,
    pub(super) buffers_read: i64,
}

impl TableDelta {
    /// Index entries written: every index on an insert and on an update that is not HOT
    /// (partial indexes counted as whole ones: an upper bound).
    pub(super) fn index_entries(&self) -> i64 {
        (self.inserted + self.updated - self.hot_updated) * self.indexes
    }
}

pub(super) async fn table_stats(pool: &PgPool) -> anyhow::Result<HashMap<String, TableDelta>> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT s.relname::text AS name, s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, s.n_tup_del,
                coalesce(s.seq_scan, 0) AS seq_scan, coalesce(s.idx_scan, 0) AS idx_scan,
                (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid) AS indexes,
                coalesce(io.heap_blks_hit, 0) + coalesce(io.idx_blks_hit, 0)
                    + coalesce(io.toast_blks_hit, 0) + coalesce(io.tidx_blks_hit, 0) AS hit,
                coalesce(io.heap_blks_read, 0) + coalesce(io.idx_blks_read, 0)
                    + coalesce(io.toast_blks_read, 0) + coalesce(io.tidx_blks_read, 0) AS read
         FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid)",
    )
    .fetch_all(pool)
    .await?;
    let mut stats = HashMap::new();
    for row in rows {
        let delta = TableDelta {
            name: row.try_get("name")?,
            inserted: row.try_get("n_tup_ins")?,
            updated: row.try_get("n_tup_upd")?,
            hot_updated: row.try_get("n_tup_hot_upd")?,
            deleted: row.try_get("n_tup_del")?,
            seq_scans: row.try_get("seq_scan")?,
            index_scans: row.try_get("idx_scan")?,
            indexes: row.try_get("indexes")?,
            buffers_hit: row.try_get("hit")?,
            buffers_read: row.try_get("read")?,
        };
        stats.insert(delta.name.clone(), delta);
    }
    Ok(stats)
}

pub(super) fn deltas(
    before: &HashMap<String, TableDelta>,
    after: &HashMap<String, TableDelta>,
) -> Vec<TableDelta> {
    let mut out: Vec<TableDelta> = after
        .values()
        .map(|a| {
            let b = before.get(&a.name).cloned().unwrap_or_default();
            TableDelta {
                name: a.name.clone(),
                inserted: a.inserted - b.inserted,
                updated: a.updated - b.updated,
                hot_updated: a.hot_updated - b.hot_updated,
                deleted: a.deleted - b.deleted,
                seq_scans: a.seq_scans - b.seq_scans,
                index_scans: a.index_scans - b.index_scans,
                indexes: a.indexes,
                buffers_hit: a.buffers_hit - b.buffers_hit,
                buffers_read: a.buffers_read - b.buffers_read,
            }
        })
        .filter(|t| t.inserted + t.updated + t.deleted + t.buffers_hit + t.buffers_read > 0)
        .collect();
    out.sort_by_key(|t| std::cmp::Reverse(t.buffers_hit + t.buffers_read));
    out
}

/// CPU time (user + system, seconds) of the processes that do the work, read from
/// `/proc/<pid>/stat`: the engine, the backends serving its database, RabbitMQ's VM, and
/// the rest of PostgreSQL. Backends that exited before the sample are missing from it.
#[derive(Clone, Copy, Default)]
pub(super) struct Cpu {
    pub(super) engine: f64,
    pub(super) backends: f64,
    pub(super) broker: f64,
    pub(super) other_postgres: f64,
}

impl Cpu {
    pub(super) fn sample(database: &str, engine: Option<u32>) -> Cpu {
        let mut cpu = Cpu::default();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return cpu;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // After the command's closing parenthesis: state, then fields 4.. of proc(5).
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|t| t.parse::<f64>().ok());
            let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
                continue;
            };
            let seconds = (utime + stime) / 100.0;
            let comm = head.rsplit_once('(').map_or("", |(_, c)| c);
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if Some(pid) == engine {
                cpu.engine += seconds;
            } else if comm == "beam.smp" {
                cpu.broker += seconds;
            } else if comm == "postgres" || cmdline.starts_with("postgres") {
                if cmdline.contains(database) {
                    cpu.backends += seconds;
                } else {
                    cpu.other_postgres += seconds;
                }
            }
        }
        cpu
    }

    pub(super) fn minus(self, before: &Cpu) -> Cpu {
        Cpu {
            engine: self.engine - before.engine,
            backends: self.backends - before.backends,
            broker: self.broker - before.broker,
            other_postgres: self.other_postgres - before.other_postgres,
        }
    }
}
