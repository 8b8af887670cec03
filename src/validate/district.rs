//! Whose report is it? The 填报单位 check of contract §7: a unit that names another district of the job
//! (with its city, when the text names one) is `district-mismatch`; one that names no district is
//! accepted.

use super::outcome::KnownDistrict;
use crate::text::normalize_text;

/// The 填报单位 check of contract §7. Returns the reason when the unit names another district of the job.
pub fn district_mismatch(
    unit: &str,
    district_code: &str,
    districts: &[KnownDistrict],
) -> Option<String> {
    let unit = normalize_text(unit).replace(' ', "");
    let this = districts.iter().find(|d| d.code == district_code)?;
    let short = |name: &str| -> String {
        let trimmed = name.trim_end_matches(['区', '县', '市']);
        if trimmed.chars().count() >= 2 {
            trimmed.to_string()
        } else {
            name.to_string()
        }
    };
    let names =
        |d: &KnownDistrict, text: &str| text.contains(&d.name) || text.contains(&short(&d.name));
    let mentioned_city = districts
        .iter()
        .map(|d| d.city_name.as_str())
        .find(|c| unit.contains(c) || unit.contains(&short(c)));
    let city_ok = mentioned_city.is_none_or(|c| c == this.city_name);
    if names(this, &unit) && city_ok {
        return None;
    }
    let other = districts.iter().find(|d| {
        d.code != this.code && names(d, &unit) && mentioned_city.is_none_or(|c| c == d.city_name)
    });
    match other {
        Some(o) => Some(format!(
            "是{}{}的，不是本区县（{}{}）：请确认报送的是本区县的报表",
            o.city_name, o.name, this.city_name, this.name
        )),
        None if !city_ok && names(this, &unit) => Some(format!(
            "写的是{}，不是本区县（{}{}）：请确认报送的是本区县的报表",
            mentioned_city.unwrap_or_default(),
            this.city_name,
            this.name
        )),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(code: &str, name: &str, city: &str) -> KnownDistrict {
        KnownDistrict {
            code: code.into(),
            name: name.into(),
            city_name: city.into(),
        }
    }

    #[test]
    fn district_mismatch_rules() {
        let all = vec![
            d("370102", "历下区", "济南市"),
            d("370103", "市中区", "济南市"),
            d("370112", "历城区", "济南市"),
            d("370402", "市中区", "枣庄市"),
        ];
        assert_eq!(
            district_mismatch("历下区工业和信息化局", "370102", &all),
            None
        );
        assert_eq!(district_mismatch("历下工信局", "370102", &all), None);
        assert!(district_mismatch("历城区工业和信息化局", "370102", &all).is_some());
        assert_eq!(
            district_mismatch("济南市工业和信息化局", "370102", &all),
            None
        );
        assert_eq!(district_mismatch("某某公司", "370102", &all), None);
        assert_eq!(
            district_mismatch("济南市市中区工信局", "370103", &all),
            None
        );
        assert!(district_mismatch("枣庄市市中区工信局", "370103", &all).is_some());
        assert_eq!(
            district_mismatch("枣庄市市中区工信局", "370402", &all),
            None
        );
    }
}
