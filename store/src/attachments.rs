//! The rows of attachments (附件): what an order carries, recorded with its timeline entry
//! in one transaction; the files themselves are in the attachments' storage, written before
//! the row and removed after it.

use crate::StoreError;
use chrono::{DateTime, Utc};
use hotline_core::attachment::ATTACHED;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// An attachment as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub id: Uuid,
    pub order_no: String,
    /// Where the file is; `None` for a call recording's reference (no file).
    pub object_key: Option<String>,
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploader_role: String,
    pub department: Option<String>,
    pub uploaded_at: DateTime<Utc>,
}

/// What became of a recording: the row written, or why not (the file is then the caller's
/// to remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Recorded(Box<AttachmentRecord>),
    /// No such order.
    NoOrder,
    /// The order is closed or merged: its record is final.
    OrderFinished,
    /// The order holds as many as it may.
    Full,
}

const COLUMNS: &str = "id, order_no, object_key, file_name, media_type, size_bytes, sha256,
                       uploaded_by, uploader_role, department, uploaded_at";

fn record_of(row: &sqlx::postgres::PgRow) -> Result<AttachmentRecord, sqlx::Error> {
    Ok(AttachmentRecord {
        id: row.try_get("id")?,
        order_no: row.try_get("order_no")?,
        object_key: row.try_get("object_key")?,
        file_name: row.try_get("file_name")?,
        media_type: row.try_get("media_type")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        uploaded_by: row.try_get("uploaded_by")?,
        uploader_role: row.try_get("uploader_role")?,
        department: row.try_get("department")?,
        uploaded_at: row.try_get("uploaded_at")?,
    })
}

/// Records `new` (its `uploaded_at` is the database's now) and its timeline entry, if its
/// order is open and holds fewer than `per_order`. The order row is locked for the count,
/// so two uploads at once cannot both take the last place.
pub async fn record(
    pool: &PgPool,
    new: &AttachmentRecord,
    per_order: u32,
) -> Result<Recorded, StoreError> {
    let mut tx = crate::begin(pool).await?;
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM orders WHERE order_no = $1 FOR UPDATE")
            .bind(&new.order_no)
            .fetch_optional(&mut *tx)
            .await?;
    match state.as_deref() {
        None => return Ok(Recorded::NoOrder),
        Some("closed" | "merged") => return Ok(Recorded::OrderFinished),
        Some(_) => {}
    }
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments WHERE order_no = $1")
        .bind(&new.order_no)
        .fetch_one(&mut *tx)
        .await?;
    if held >= i64::from(per_order) {
        return Ok(Recorded::Full);
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO attachments (id, order_no, object_key, file_name, media_type, size_bytes,
                                  sha256, uploaded_by, uploader_role, department)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING {COLUMNS}"
    )))
    .bind(new.id)
    .bind(&new.order_no)
    .bind(&new.object_key)
    .bind(&new.file_name)
    .bind(&new.media_type)
    .bind(new.size_bytes)
    .bind(&new.sha256)
    .bind(&new.uploaded_by)
    .bind(&new.uploader_role)
    .bind(&new.department)
    .fetch_one(&mut *tx)
    .await?;
    let recorded = record_of(&row)?;
    // The entry names no file: a name may hold a citizen's, and the timeline outlives the
    // file (retention removes files with the citizen's data).
    sqlx::query(
        "INSERT INTO order_events (order_no, event_id, event_type, actor, occurred_at, detail)
         VALUES ($1, $2, $3, $4, now(), $5)",
    )
    .bind(&new.order_no)
    .bind(new.id)
    .bind(ATTACHED)
    .bind(&new.uploaded_by)
    .bind(serde_json::json!({
        "attachment_id": new.id,
        "media_type": new.media_type,
        "size_bytes": new.size_bytes,
        "department": new.department,
    }))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Recorded::Recorded(Box::new(recorded)))
}

/// The attachments of `order_no`, oldest first.
pub async fn list(pool: &PgPool, order_no: &str) -> Result<Vec<AttachmentRecord>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM attachments WHERE order_no = $1 ORDER BY uploaded_at, id"
    )))
    .bind(order_no)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(record_of).collect::<Result<_, _>>()?)
}

/// One attachment of `order_no`.
pub async fn one(
    pool: &PgPool,
    order_no: &str,
    id: Uuid,
) -> Result<Option<AttachmentRecord>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM attachments WHERE order_no = $1 AND id = $2"
    )))
    .bind(order_no)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(record_of).transpose()?)
}

/// Up to `limit` attachments of orders closed or merged more than `days` ago: what
/// retention removes with the citizen's data (`[retention] citizen_data_days`).
pub async fn expired(
    pool: &PgPool,
    days: u32,
    limit: i64,
) -> Result<Vec<AttachmentRecord>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM attachments a
         WHERE EXISTS (SELECT 1 FROM orders o
                       WHERE o.order_no = a.order_no AND o.state IN ('closed', 'merged')
                         AND coalesce(o.closed_at, o.updated_at) < now() - make_interval(days => $1))
         ORDER BY uploaded_at LIMIT $2"
    )))
    .bind(days as i32)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(record_of).collect::<Result<_, _>>()?)
}

/// Removes the rows of attachments whose files are gone.
pub async fn forget(pool: &PgPool, ids: &[Uuid]) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM attachments WHERE id = ANY($1)")
        .bind(ids)
        .execute(pool)
        .await?
        .rows_affected())
}
