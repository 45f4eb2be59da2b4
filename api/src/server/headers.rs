//! Request headers that may be sent once only: a second value is refused, not
//! silently dropped or preferred.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::server::problem::ApiError;

/// The value of single-valued header `name`, if sent; refused if sent twice.
pub(crate) fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a HeaderValue>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(ApiError::RepeatedHeader(name.as_str().to_owned())),
        None => Ok(first),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::header::AUTHORIZATION;

    use super::*;

    #[test]
    fn a_header_sent_twice_is_refused_by_name() {
        let mut headers = HeaderMap::new();
        assert!(matches!(single(&headers, &AUTHORIZATION), Ok(None)));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        assert_eq!(single(&headers, &AUTHORIZATION).ok().flatten(), Some(&HeaderValue::from_static("Bearer a")));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert!(
            matches!(single(&headers, &AUTHORIZATION), Err(ApiError::RepeatedHeader(name)) if name == "authorization")
        );
    }
}
