"""Pure helpers with no database and no first-party imports: clock, text, geo."""
