//! The allocation chart on the portfolio page (SPEC §4 "GET /portfolio"):
//! an inline SVG with a title, and a text alternative that carries the numbers.

use super::*;

/// The value of `attr="…"` in the first tag of `fragment`.
fn attr_of(fragment: &str, attr: &str) -> Option<String> {
    let tag_end = fragment.find('>')?;
    let tag = &fragment[..tag_end];
    let at = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let end = at + tag[at..].find('"')?;
    Some(tag[at..end].to_string())
}

/// The text inside the element whose opening tag contains `id="ID"`.
fn element_text(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</")?;
    Some(text(&html[open_end..close]))
}

#[test]
fn allocation_chart_is_an_svg_with_a_title_and_a_text_alternative() {
    let app = TestServer::new().spawn();
    let client = signed_in(&app, "chart@example.com");
    // Values 4,000 / 3,000 / 1,000: 50.0%, 37.5%, 12.5%.
    put_holdings(
        &client,
        json!([
            {"symbol": "AAPL", "quantity": 20, "price": 200},
            {"symbol": "MSFT", "quantity": 10, "price": 300},
            {"symbol": "CASH", "quantity": 1000, "price": 1},
        ]),
    );
    let page = portfolio_page(&client);
    let svg = svg(&page.body).unwrap_or_else(|| panic!("no inline <svg>:\n{}", page.body));
    assert_eq!(attr_of(&svg, "role").as_deref(), Some("img"), "{svg}");

    let labelled_by = attr_of(&svg, "aria-labelledby")
        .unwrap_or_else(|| panic!("the svg has no aria-labelledby: {svg}"));
    let ids: Vec<&str> = labelled_by.split_whitespace().collect();
    assert!(!ids.is_empty(), "{svg}");
    for id in &ids {
        assert!(
            svg.contains(&format!("id=\"{id}\"")),
            "aria-labelledby names {id}, which is not in the svg: {svg}"
        );
    }
    let title = element_text(&svg, "chart-title")
        .or_else(|| {
            let at = svg.find("<title")?;
            let open_end = at + svg[at..].find('>')? + 1;
            Some(text(
                &svg[open_end..open_end + svg[open_end..].find("</title>")?],
            ))
        })
        .unwrap_or_else(|| panic!("the svg has no <title>: {svg}"));
    assert_eq!(title, "Allocation by value");

    // A text alternative that carries the numbers, for people who cannot see
    // the bars: in the <desc> and in the visible caption.
    let desc_start = svg
        .find("<desc")
        .unwrap_or_else(|| panic!("no <desc>: {svg}"));
    let desc = text(&svg[desc_start..desc_start + svg[desc_start..].find("</desc>").unwrap()]);
    for want in ["AAPL 50.0%", "MSFT 37.5%", "CASH 12.5%"] {
        assert!(desc.contains(want), "the <desc> lacks {want:?}: {desc}");
    }
    let caption = page
        .body
        .find("<figcaption")
        .map(|i| text(&page.body[i..i + page.body[i..].find("</figcaption>").unwrap()]));
    assert!(
        caption.as_deref().is_some_and(|c| c.contains("AAPL 50.0%")),
        "no figcaption with the allocation: {caption:?}"
    );
    // Readable without colour: every bar is labelled with its symbol and share.
    for symbol in ["AAPL", "MSFT", "CASH"] {
        assert!(
            svg.contains(&format!(">{symbol}</text>")),
            "no text label for {symbol} in the chart: {svg}"
        );
    }
    for share in ["50.0%", "37.5%", "12.5%"] {
        assert!(
            svg.contains(&format!(">{share}</text>")),
            "no text label {share} in the chart: {svg}"
        );
    }
}
