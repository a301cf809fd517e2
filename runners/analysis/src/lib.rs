//! What the numbers of a run say: paired ratios, intervals with the run-level term, verdicts and
//! flags (`analysis`), two runs compared cell by cell (`compare`) and for precision
//! (`precision`), the hostcall price list (`price`), several runs merged into one (`merge`), files of several machines and
//! shards checked and kept apart per machine type (`machines`), and numbers formatted for tables
//! (`format`). Reads only the catalog and the results schema, so reports build without the
//! harness that produces results.

pub mod analysis;
pub mod compare;
pub mod format;
pub mod machines;
pub mod merge;
pub mod precision;
pub mod price;
mod rounds;
#[cfg(test)]
mod test_cells;

use filterbench_catalog::{catalog, workloads};
use filterbench_results::{envoy, envoy_cpu, results, stats};
