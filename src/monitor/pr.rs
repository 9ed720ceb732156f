//! Pull/merge request URLs in screen text (GitHub `/pull/N`, GitLab `/merge_requests/N`).

use std::sync::LazyLock;

use regex::Regex;

static PR_URL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"https://github\.com/[\w.-]+/[\w.-]+/pull/\d+|https://[\w.-]+(?:/[\w.-]+)+?/(?:-/)?merge_requests/\d+",
    )
    .ok()
});

/// Every PR URL in `text`, in order of appearance, without duplicates.
pub fn find_pr_urls(text: &str) -> Vec<String> {
    let Some(re) = PR_URL.as_ref() else {
        return Vec::new();
    };
    let mut urls: Vec<String> = Vec::new();
    for m in re.find_iter(text) {
        if !urls.iter().any(|u| u == m.as_str()) {
            urls.push(m.as_str().to_owned());
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_and_gitlab_urls_are_found() {
        assert_eq!(
            find_pr_urls("Created PR: https://github.com/user/repo/pull/123"),
            vec!["https://github.com/user/repo/pull/123"]
        );
        assert_eq!(
            find_pr_urls("MR https://gitlab.com/group/project/-/merge_requests/456 ok"),
            vec!["https://gitlab.com/group/project/-/merge_requests/456"]
        );
        assert!(find_pr_urls("No PR created").is_empty());
        assert_eq!(
            find_pr_urls("a https://github.com/u/r1/pull/1 b https://github.com/u/r2/pull/2").len(),
            2
        );
    }
}
