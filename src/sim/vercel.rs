//! Vercel, simulated. (Routes are filled in by the Vercel adapter work.)

use super::Shared;
use axum::Router;
use serde_json::{json, Value};

#[derive(Debug, Default)]
pub struct VercelState {
    pub objects: Vec<Value>,
}

impl VercelState {
    pub fn snapshot(&self) -> Value {
        json!({ "objects": self.objects })
    }
    pub fn mutate(
        &mut self,
        kind: &str,
        _id: &str,
        _set: &Value,
        _delete: bool,
    ) -> Result<(), String> {
        Err(format!("unknown vercel kind `{kind}`"))
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
}
