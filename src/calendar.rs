//! `hotline calendar import|show` and `hotline replay`: the State Council's notices into
//! the calendar the engine reads, and the open orders' deadlines onto it.

use anyhow::Context;
use chrono::{NaiveDate, TimeDelta};
use clap::Subcommand;
use hotline_core::calendar::notice::{Notice, year_table};
use hotline_core::calendar::{BusinessCalendar, business_time};
use hotline_core::config::Config;
use hotline_core::rules::Rules;
use hotline_runtime::settings::Settings;
use hotline_workers::replay::{Idle, Mode, ReplaySummary, Replayer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// Validates a State Council notice (holiday-cn JSON, or a plain table: `2027-01-01..03
    /// 休 元旦`, `2027-01-09 班 元旦`) and writes it, one file a year, to the `calendar.d`
    /// directory beside the configuration file; running engines pick it up within 2 s and
    /// move the open orders' deadlines that cross a changed day. A year imported again is
    /// replaced.
    Import {
        file: PathBuf,
        /// Where to write (default: `calendar.d` beside the configuration file).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Prints a year's days off and make-up working days as the engine counts them.
    Show { year: i32 },
}

pub fn run(settings: &Settings, command: CalendarCommand) -> anyhow::Result<()> {
    match command {
        CalendarCommand::Import { file, dir } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let notice = Notice::parse(&text)
                .map_err(|e| anyhow::anyhow!("{} refused: {e}", file.display()))?;
            let dir = dir.unwrap_or_else(|| Config::notices_dir(settings.config_path().as_deref()));
            let before = settings.load_config()?.calendar;
            import(&notice, &dir)?;
            let after = settings
                .load_config()
                .context("the configuration with the imported notice")?
                .calendar;
            print!("{}", import_report(&notice, &dir, &before, &after));
            Ok(())
        }
        CalendarCommand::Show { year } => {
            let config = settings.load_config()?;
            let calendar = &config.calendar;
            println!(
                "{year} 年放假与调休 · calendar {} · declared until {}",
                calendar.version(),
                calendar
                    .covered_until()
                    .map_or("never".to_owned(), |d| d.to_string())
            );
            print!("{}", year_table(year, calendar.declared_days()));
            Ok(())
        }
    }
}

/// Writes each year of `notice` to `<dir>/<year>.json`, each file whole or not at all.
fn import(notice: &Notice, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for year in notice.years() {
        let target = dir.join(format!("{year}.json"));
        let partial = dir.join(format!(".{year}.json.partial"));
        std::fs::write(&partial, notice.holiday_cn(year))
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, &target)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

fn import_report(
    notice: &Notice,
    dir: &Path,
    before: &BusinessCalendar,
    after: &BusinessCalendar,
) -> String {
    let days = notice.days();
    let off = days.iter().filter(|d| d.off).count();
    let (first, last) = (days[0].date, days[days.len() - 1].date);
    let changed = before.changed_days(after, first, last);
    let mut out = format!(
        "imported {} day(s) off and {} working day(s) of {} into {}\n",
        off,
        days.len() - off,
        notice
            .years()
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        dir.display()
    );
    out += &format!(
        "calendar {} → {}; {} day(s) change: {}\n",
        before.version(),
        after.version(),
        changed.len(),
        changed
            .iter()
            .map(NaiveDate::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    out += "running engines reload within 2 s and move the open orders whose deadlines cross \
            a changed day (`hotline replay --dry-run` lists them)\n";
    out
}

/// `hotline replay [--dry-run]`.
pub async fn replay(settings: &Settings, dry_run: bool) -> anyhow::Result<()> {
    let config = settings.load_config()?;
    let pool = crate::database::migrated(settings, 2).await?;
    let rules = Arc::new(Rules::new(&config));
    let replayer = Replayer {
        pool,
        rules: move || rules.clone(),
    };
    let mode = if dry_run { Mode::DryRun } else { Mode::Apply };
    match replayer.replay(mode).await? {
        Ok(summary) => print!("{}", replay_report(&summary, mode)),
        Err(Idle::UpToDate) => {
            println!("the calendar in force is the one applied: no deadline moves")
        }
        Err(Idle::FirstStart) => println!(
            "no calendar was applied yet: the open orders' deadlines were computed on this one"
        ),
        Err(Idle::Busy) => println!("another engine process is replaying right now"),
    }
    Ok(())
}

fn replay_report(summary: &ReplaySummary, mode: Mode) -> String {
    let verb = match mode {
        Mode::Apply => "moved",
        Mode::DryRun => "would move",
    };
    let mut out = format!(
        "calendar {} → {}: {} changed day(s); {} open order(s) checked, {verb} {}\n",
        summary.from_version,
        summary.to_version,
        summary.changed_days,
        summary.orders_checked,
        summary.orders_moved
    );
    for m in &summary.moves {
        let (before, after) = (&m.recomputed.before, &m.recomputed.after);
        out += &format!(
            "{}  {}  committed {} → {} ({})  statutory {} → {} ({})  days {}\n",
            m.order_no,
            m.department,
            business_time(before.committed),
            business_time(after.committed),
            shift(after.committed - before.committed),
            business_time(before.statutory),
            business_time(after.statutory),
            shift(after.statutory - before.statutory),
            m.recomputed
                .days
                .iter()
                .map(NaiveDate::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if summary.moves.len() < summary.orders_moved {
        out += &format!(
            "… and {} more\n",
            summary.orders_moved - summary.moves.len()
        );
    }
    out
}

/// `+2d 00h00m`, `-3h30m`: how far a deadline moved, in natural time.
fn shift(delta: TimeDelta) -> String {
    let sign = if delta < TimeDelta::zero() { '-' } else { '+' };
    let minutes = delta.num_minutes().abs();
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if days > 0 {
        format!("{sign}{days}d {hours:02}h{minutes:02}m")
    } else {
        format!("{sign}{hours}h{minutes:02}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_read_as_days_and_hours() {
        for (minutes, expect) in [
            (0, "+0h00m"),
            (90, "+1h30m"),
            (-210, "-3h30m"),
            (2 * 1440, "+2d 00h00m"),
            (-(1440 + 61), "-1d 01h01m"),
        ] {
            assert_eq!(shift(TimeDelta::minutes(minutes)), expect);
        }
    }
}
