//! Internal notes (内部备注): written and read per unit (a department, the operators, the
//! supervisors), never another's.

use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRecord {
    pub id: Uuid,
    pub order_no: String,
    pub unit: String,
    pub author: String,
    pub body: String,
    pub written_at: DateTime<Utc>,
}

/// What became of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written now, or before under the same id (a form sent twice).
    Written,
    NoOrder,
    /// The unit keeps as many notes on the order as it may.
    Full,
}

/// Writes `note` (its `written_at` is the database's now) unless its id is written already,
/// if its order exists and the unit holds fewer than `per_order` on it.
pub async fn write(
    pool: &PgPool,
    note: &NoteRecord,
    per_order: i64,
) -> Result<Written, StoreError> {
    let mut tx = crate::begin(pool).await?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT order_no FROM orders WHERE order_no = $1 FOR SHARE")
            .bind(&note.order_no)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(Written::NoOrder);
    }
    // One unit's notes on one order are counted under a lock of their own, so two writers
    // cannot both take the last place.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))")
        .bind(&note.order_no)
        .bind(&note.unit)
        .execute(&mut *tx)
        .await?;
    let held: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_notes WHERE order_no = $1 AND unit = $2")
            .bind(&note.order_no)
            .bind(&note.unit)
            .fetch_one(&mut *tx)
            .await?;
    if held >= per_order {
        return Ok(Written::Full);
    }
    sqlx::query(
        "INSERT INTO order_notes (id, order_no, unit, author, body) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(note.id)
    .bind(&note.order_no)
    .bind(&note.unit)
    .bind(&note.author)
    .bind(&note.body)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Written::Written)
}

/// The notes `unit` wrote on `order_no`, oldest first.
pub async fn of_unit(
    pool: &PgPool,
    order_no: &str,
    unit: &str,
) -> Result<Vec<NoteRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, order_no, unit, author, body, written_at FROM order_notes
         WHERE order_no = $1 AND unit = $2 ORDER BY written_at, id",
    )
    .bind(order_no)
    .bind(unit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(NoteRecord {
                id: row.try_get("id")?,
                order_no: row.try_get("order_no")?,
                unit: row.try_get("unit")?,
                author: row.try_get("author")?,
                body: row.try_get("body")?,
                written_at: row.try_get("written_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}
