//! probe — *what does the server actually present?*
