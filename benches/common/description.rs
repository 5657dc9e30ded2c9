//! A realistic epic description, shared by the benchmarks: about 1.7 KB, with a status
//! section of about 1 KB (heading, paragraph, task list, references, a quote, a table)
//! between other headings and links.

/// The description of epic `id`.
pub fn description(id: usize) -> String {
    description_of_week(id, "2026-11-20", 38)
}

/// The description of epic `id` as it read on `date`, with `tables` of the 40 tables
/// migrated: the week before, most sections said less.
#[allow(dead_code)] // the pipeline benchmark needs only this week's
pub fn description_of_week(id: usize, date: &str, tables: usize) -> String {
    format!(
        "## Summary\n\nMove ledger service {id} off the old platform so finance can close \
         the books on the new one. See the [charter](https://docs.example.com/charter/{id}).\n\n\
         ## Scope\n\n- Data migration of 40 tables\n- Reports and dashboards\n- Decommissioning\n\n\
         <!-- Status Start -->\n\
         ### Status {date}\n\n\
         **Progress:** cut-over rehearsal {id} finished; {tables} of 40 tables migrated and \
         reconciled. Reports are in user acceptance testing with @finance-team.\n\n\
         - [x] Rehearse the cut-over (see #{a} and &{id})\n\
         - [x] Reconcile balances for Q3\n\
         - [ ] Sign-off from the controller, due `2026-11-27`\n\
         - [ ] Freeze window agreed with [operations](https://wiki.example.com/ops/{id})\n\n\
         > **Risk:** the vendor's export API limits us to 1,000 rows a minute; \
         a workaround is in review in !{b}.\n\n\
         | milestone | date | state |\n|---|---|---|\n| rehearsal | 2026-11-13 | done |\n\
         | go-live | 2026-12-07 | planned |\n\
         <!-- Status End -->\n\n\
         ## Links\n\n- Runbook: https://wiki.example.com/runbooks/{id}\n- Budget: finance-{id}\n",
        a = id * 3 + 1,
        b = id * 5 + 2,
    )
}
