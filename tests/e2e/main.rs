//! End-to-end tests: the real `hotline` binary against real RabbitMQ and PostgreSQL.
//! One test binary for the crate (build time); one module per capability.

mod accounts;
mod api;
mod attachments;
mod bulk;
mod cancelled;
mod cli;
mod dashboards;
mod deadlines;
mod faults;
mod hostile;
mod http_limits;
mod intake;
mod kpi;
mod lifecycle;
mod notes;
mod openapi;
mod orders_list;
mod pages;
mod practice;
mod probes;
mod promises;
mod raw_amqp;
mod reference;
mod schemathesis;
mod sla;
mod support;
