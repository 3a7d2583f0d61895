pub mod rego;
