"""The opioid-competency certification programme: certificates, the validity rule, progress
by department and profession, and reminders through the alerts outbox."""
