//+------------------------------------------------------------------+
//| Journal.mqh -- the follower's command-id dedup set. Each handled |
//| command keeps the ExecutionReport envelope it produced, so a     |
//| re-delivered command is answered again without trading again.   |
//| Bounded ring; serialised as JSON for the state file. Pure code.  |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_JOURNAL_MQH
#define COPYGATEWAY_JOURNAL_MQH

#include <CopyGateway/JsonWriter.mqh>
#include <CopyGateway/JsonDoc.mqh>

#define CG_JOURNAL_CAPACITY 1000

class CCommandJournal
  {
private:
   string            m_ids[];      // command ids (ring)
   string            m_reports[];  // encoded ExecutionReport envelope per id
   int               m_next;       // next ring slot once full
   int               m_capacity;   // ring size

public:
                     CCommandJournal(void) : m_next(0),m_capacity(CG_JOURNAL_CAPACITY) {}
   void              SetCapacity(const int capacity) { m_capacity=(capacity>0 ? capacity : 1); Clear(); }
   void              Clear(void) { ArrayResize(m_ids,0); ArrayResize(m_reports,0); m_next=0; }
   int               Count(void) const { return(ArraySize(m_ids)); }
   //--- the stored report of `command_id`, "" when unknown
   bool              Find(const string command_id,string &report) const
     {
      for(int i=0;i<ArraySize(m_ids);i++)
         if(m_ids[i]==command_id)
           {
            report=m_reports[i];
            return(true);
           }
      return(false);
     }
   void              Add(const string command_id,const string report)
     {
      for(int i=0;i<ArraySize(m_ids);i++)
         if(m_ids[i]==command_id)
           {
            m_reports[i]=report;
            return;
           }
      int n=ArraySize(m_ids);
      if(n<m_capacity)
        {
         ArrayResize(m_ids,n+1,64);
         ArrayResize(m_reports,n+1,64);
         m_ids[n]=command_id;
         m_reports[n]=report;
         return;
        }
      m_ids[m_next]=command_id;
      m_reports[m_next]=report;
      m_next=(m_next+1)%m_capacity;
     }
   string            Serialize(void) const
     {
      CJsonWriter w;
      w.BeginObject();
      w.KeyInt("v",1);
      w.KeyInt("next",m_next);
      w.Key("entries");
      w.BeginArray();
      for(int i=0;i<ArraySize(m_ids);i++)
        {
         w.BeginObject();
         w.KeyStr("c",m_ids[i]);
         w.KeyRaw("r",(m_reports[i]=="" ? "null" : m_reports[i]));  // null = in flight
         w.EndObject();
        }
      w.EndArray();
      w.EndObject();
      return(w.Text());
     }
   bool              Load(const string text)
     {
      Clear();
      CJsonDoc doc;
      if(!doc.Parse(text))
         return(false);
      long next=0;
      doc.GetLong(doc.Root(),"next",next);
      int list=doc.Find(doc.Root(),"entries");
      for(int e=doc.First(list);e>=0;e=doc.Next(e))
        {
         string id;
         int r=doc.Find(e,"r");
         if(!doc.GetString(e,"c",id) || (doc.Kind(r)!=JSON_OBJECT && doc.Kind(r)!=JSON_NULL))
            continue;
         int n=ArraySize(m_ids);
         if(n>=m_capacity)
            break;
         ArrayResize(m_ids,n+1,64);
         ArrayResize(m_reports,n+1,64);
         m_ids[n]=id;
         m_reports[n]=(doc.Kind(r)==JSON_NULL ? "" : doc.RawText(r));
        }
      m_next=(int)(next>=0 && next<m_capacity ? next : 0);
      return(true);
     }
  };

#endif
