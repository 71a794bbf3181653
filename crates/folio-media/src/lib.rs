//! folio-media (work in progress)
