//! Facts a committed decision hands to the process's counters and histograms. No
//! personal data: departments, ratings and service points only.

use hotline_schema::values::Rating;

#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// An order replied, `seconds` after it was received.
    Replied {
        department: String,
        seconds: f64,
    },
    Closed {
        department: String,
        on_time: bool,
    },
    Feedback {
        department: String,
        rating: Rating,
    },
    /// A rating removed from 满意率 by an upheld appeal (评价复核).
    FeedbackExcluded {
        department: String,
        rating: Rating,
    },
    Hall(HallObservation),
}

/// The service hall's times, per service point.
#[derive(Debug, Clone, PartialEq)]
pub enum HallObservation {
    /// Checked in → called (等候时长).
    Waiting { service_point: String, seconds: f64 },
    /// Called → completed (受理时长).
    Handling { service_point: String, seconds: f64 },
}

impl From<HallObservation> for Observation {
    fn from(o: HallObservation) -> Observation {
        Observation::Hall(o)
    }
}
