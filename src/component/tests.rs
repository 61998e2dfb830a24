//! Tests of the component face.
