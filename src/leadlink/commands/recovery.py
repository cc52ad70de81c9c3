"""`leadlink queue seed`, `leadlink recover`, `leadlink impact`: working the KPI-red backlog."""
